/**
 * EMQ X v3 metrics (43 counters) and stats (count + high-water mark pairs).
 *
 * Packet counters are indexed by MQTT control packet type (1..15, [MQTT-2.2.1]) so the wire tap
 * does one array increment per packet; names are only produced when `all()` is read.
 */

export const STAT_NAMES = [
  'connections', 'sessions', 'sessions/persistent', 'subscriptions', 'subscriptions/shared',
  'subscribers', 'topics', 'routes', 'retained', 'suboptions'
] as const
export type StatName = typeof STAT_NAMES[number]

export class Metrics {
  /** packets received / sent, by control packet type */
  readonly pktIn = new Float64Array(16)
  readonly pktOut = new Float64Array(16)
  /** PUBLISH received / sent, by QoS */
  readonly msgIn = new Float64Array(3)
  readonly msgOut = new Float64Array(3)
  bytesIn = 0
  bytesOut = 0
  pubackMissed = 0
  pubrecMissed = 0
  pubrelMissed = 0
  pubcompMissed = 0
  qos2Dropped = 0
  /** published with no subscriber at all (messages/dropped) */
  dropped = 0
  /** queued messages dropped for their MQTT 5 Message Expiry Interval (expiry.ts) */
  expired = 0
  /** gauge, kept in step with the retained store */
  retained = 0

  private readonly gauges = new Map<StatName, { count: number, max: number }>(
    STAT_NAMES.map(n => [n, { count: 0, max: 0 }])
  )

  /** MQTT packets received and sent so far */
  packets (): number {
    return sum(this.pktIn) + sum(this.pktOut)
  }

  all (): Record<string, number> {
    const i = this.pktIn
    const o = this.pktOut
    return {
      'bytes/received': this.bytesIn,
      'bytes/sent': this.bytesOut,
      'packets/received': sum(i),
      'packets/sent': sum(o),
      'packets/connect': i[1] ?? 0,
      'packets/connack': o[2] ?? 0,
      'packets/publish/received': i[3] ?? 0,
      'packets/publish/sent': o[3] ?? 0,
      'packets/puback/received': i[4] ?? 0,
      'packets/puback/sent': o[4] ?? 0,
      'packets/puback/missed': this.pubackMissed,
      'packets/pubrec/received': i[5] ?? 0,
      'packets/pubrec/sent': o[5] ?? 0,
      'packets/pubrec/missed': this.pubrecMissed,
      'packets/pubrel/received': i[6] ?? 0,
      'packets/pubrel/sent': o[6] ?? 0,
      'packets/pubrel/missed': this.pubrelMissed,
      'packets/pubcomp/received': i[7] ?? 0,
      'packets/pubcomp/sent': o[7] ?? 0,
      'packets/pubcomp/missed': this.pubcompMissed,
      'packets/subscribe': i[8] ?? 0,
      'packets/suback': o[9] ?? 0,
      'packets/unsubscribe': i[10] ?? 0,
      'packets/unsuback': o[11] ?? 0,
      'packets/pingreq': i[12] ?? 0,
      'packets/pingresp': o[13] ?? 0,
      'packets/disconnect/received': i[14] ?? 0,
      // MQTT 5 only: the server's DISCONNECT with a reason (kickout, ban, takeover, ...); a 3.1.1 client is just closed
      'packets/disconnect/sent': o[14] ?? 0,
      // MQTT 5 only (enhanced authentication, which this broker does not offer: aedes closes such a connection)
      'packets/auth': (i[15] ?? 0) + (o[15] ?? 0),
      'messages/received': sum(this.msgIn),
      'messages/sent': sum(this.msgOut),
      'messages/qos0/received': this.msgIn[0] ?? 0,
      'messages/qos0/sent': this.msgOut[0] ?? 0,
      'messages/qos1/received': this.msgIn[1] ?? 0,
      'messages/qos1/sent': this.msgOut[1] ?? 0,
      'messages/qos2/received': this.msgIn[2] ?? 0,
      'messages/qos2/sent': this.msgOut[2] ?? 0,
      // aedes has no awaiting-PUBREL timeout, so nothing ever expires
      'messages/qos2/expired': 0,
      'messages/qos2/dropped': this.qos2Dropped,
      'messages/retained': this.retained,
      'messages/dropped': this.dropped,
      // MQTT 5 message expiry: queued messages expired before they could be sent
      'messages/expired': this.expired,
      // single node: nothing is forwarded to peers
      'messages/forward': 0
    }
  }

  /** Sets a stat gauge and raises its high-water mark. */
  setStat (name: StatName, count: number): void {
    const g = this.gauges.get(name)
    if (g === undefined) return
    g.count = count
    if (count > g.max) g.max = count
  }

  stats (): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [name, g] of this.gauges) {
      out[`${name}/count`] = g.count
      out[`${name}/max`] = g.max
    }
    return out
  }
}

function sum (a: Float64Array): number {
  let s = 0
  for (let k = 0; k < a.length; k++) s += a[k] ?? 0
  return s
}
