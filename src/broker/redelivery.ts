/**
 * [MQTT-3.3.1-1]: a PUBLISH sent again must carry DUP=1. aedes 1.2 resends the unacknowledged QoS
 * 1/2 messages of a resumed session [MQTT-4.4.0-1] with DUP=0. A stored message that already has a
 * packet identifier was sent before (aedes assigns one only when it sends; queued messages have
 * none), so it is marked here, in a layer over the session-resume read of the persistence
 * (outgoingStream).
 */

import { Transform, pipeline } from 'node:stream'
import type { PersistenceLayer } from './persistence.js'

interface Outgoing { cmd?: string, qos?: number, messageId?: number, dup?: boolean }

export const markRedeliveries: PersistenceLayer = (next) => ({
  outgoingStream (client) {
    // read at every CONNECT; a clean session's stored messages are discarded, not sent: nothing to mark
    if ((client as { clean?: boolean }).clean === true) return next.outgoingStream(client)
    const mark = new Transform({
      objectMode: true,
      transform (packet: Outgoing, _enc, cb) {
        const sent = (packet.cmd ?? 'publish') === 'publish' && (packet.qos ?? 0) > 0 && packet.messageId !== undefined && packet.messageId !== 0
        cb(null, sent && packet.dup !== true ? { ...packet, dup: true } : packet)
      }
    })
    // errors of the store's stream reach the consumer through `mark`
    return pipeline(next.outgoingStream(client), mark, () => {})
  }
})
