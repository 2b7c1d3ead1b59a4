/**
 * PUBACK only once a QoS 1 message is stored. aedes 1.2's PUBLISH handler writes PUBACK first and
 * calls broker.publish after it (storeRetained → enqueueOffline → mq.emit), so a crash in between
 * lost messages the client had been told were stored.
 *
 * authorizePublish is the last step before the handler acknowledges, so the publish is run there:
 * the authorization answers once the message is stored (retained copy and the queue of every
 * matching persistent session written, which is when aedes hands it to its emitter) or with the
 * store's error (then no PUBACK: aedes closes the connection). The handler's own broker.publish
 * for that packet then only waits for the publish already under way, which keeps aedes' flow
 * control (the next packets are read once the publish finished, as before).
 *
 * QoS 2 needs none of this: aedes stores the packet and publishes before it sends PUBREC.
 */

type Done = (err?: Error) => void
type Publish = (packet: object, client: unknown, done: Done) => void

type Answer = (err: Error | null) => void

interface Run {
  /** the authorization's answer, until the message is stored */
  stored: Answer | null
  finished: boolean
  err: Error | null
  /** the handler's broker.publish callback, waiting for the publish to finish */
  waiting: Done | null
}

export interface Stampable { brokerId?: unknown, brokerCounter?: unknown }

export interface AckAfterStore {
  /** runs the publish of an authorized QoS 1 `packet` now; `stored` answers the authorization */
  publish: (packet: object, client: unknown, stored: Answer) => void
  /** the handler's broker.publish of a packet published here: true when taken (`done` once finished) */
  take: (packet: object, done: Done | undefined) => boolean
  /** aedes hands `packet` (its copy of a publish) to its emitter: everything before that, storing included, is done */
  emitted: (packet: Stampable) => void
}

/**
 * `publish` is aedes' real publish; `stamp` gives a packet the broker id and next counter aedes' own
 * copy would get (aedes-packet keeps them), so the copy that reaches the emitter is told apart by its
 * counter; `emitted` is called for every packet aedes hands its emitter (upstream.ts installs both).
 */
export function ackAfterStore (brokerId: string, stamp: (packet: object) => number, publish: Publish): AckAfterStore {
  const runs = new WeakMap<object, Run>()
  /** counter → run whose message is not yet stored */
  const storing = new Map<number, Run>()

  function answer (run: Run, err: Error | null): void {
    const stored = run.stored
    run.stored = null
    stored?.(err)
  }

  return {
    emitted (packet) {
      // the emitter sees a message once persistence has it: the point to acknowledge at
      if (storing.size === 0 || packet.brokerId !== brokerId || typeof packet.brokerCounter !== 'number') return
      const run = storing.get(packet.brokerCounter)
      if (run === undefined) return
      storing.delete(packet.brokerCounter)
      answer(run, null)
    },

    publish (packet, client, stored) {
      const counter = stamp(packet)
      const run: Run = { stored, finished: false, err: null, waiting: null }
      runs.set(packet, run)
      storing.set(counter, run)
      publish(packet, client, (err) => {
        storing.delete(counter)
        run.finished = true
        run.err = err ?? null
        // failed before the emitter: nothing was acknowledged, the error goes to the authorization
        answer(run, run.err)
        const waiting = run.waiting
        run.waiting = null
        // an error was reported to the authorization already (and the connection closes)
        waiting?.()
      })
    },

    take (packet, done) {
      const run = runs.get(packet)
      if (run === undefined) return false
      runs.delete(packet)
      // called from the PUBACK's write callback, already a turn of its own: no further deferral (it would hold
      // back reading the client's next packets by one more turn)
      if (run.finished) done?.()
      else run.waiting = done ?? null
      return true
    }
  }
}
