/**
 * messages/dropped (EMQ X): a publish that reached no live subscriber and no stored session, or a
 * message a full offline queue or a slow consumer did not take.
 *
 * One node alone, the local emitter's matcher tells how many subscribers a publish found (`matched`);
 * a QoS 1/2 publish that reached only stored sessions finds none there, so the persistence chain
 * reports those first (`accountedFor`), and the matcher does not count them. Clustered, each node's
 * emitter only sees its own clients' subscriptions: a message is counted where it was published,
 * from how many nodes the bus reached (`busReceived`).
 */

import type { Metrics } from './metrics.js'

const SYS = '$SYS/'

export class Drops {
  /** set once the local matcher is observed (one node alone) */
  matching = false
  /** topic → pending QoS>0 publishes that reached a stored (possibly offline) session */
  private readonly persisted = new Map<string, number>()
  /** the same, by packet, where the packet published is the one stored (clustered: busReceived) */
  private readonly storedPackets = new WeakSet<object>()

  constructor (private readonly metrics: Metrics) {}

  /** one more message not delivered (a full queue, a slow consumer's QoS 0) */
  dropped (): void {
    this.metrics.dropped++
  }

  /** `packet` reached a stored session, or its drop was counted already: the matcher must not count it */
  accountedFor (packet: { topic: string }): void {
    if (this.matching) this.persisted.set(packet.topic, (this.persisted.get(packet.topic) ?? 0) + 1)
    this.storedPackets.add(packet)
  }

  /** the local emitter matched `found` subscriptions for a publish to `topic` */
  matched (topic: string, found: number): void {
    const pending = this.persisted.size === 0 ? undefined : this.persisted.get(topic)
    if (pending !== undefined) {
      if (pending > 1) this.persisted.set(topic, pending - 1)
      else this.persisted.delete(topic)
    } else if (found === 0 && !topic.startsWith(SYS)) {
      this.metrics.dropped++
    }
  }

  /** clustered: the bus delivered `packet` to `receivers` nodes */
  busReceived (packet: object, receivers: number): void {
    const topic = (packet as { topic?: unknown }).topic
    if (receivers === 0 && !this.storedPackets.has(packet) && typeof topic === 'string' && !topic.startsWith(SYS)) this.metrics.dropped++
  }
}
