/**
 * MQTT 5 message expiry, counted: aedes 2 drops a queued message whose Message Expiry Interval
 * passed while it waited [MQTT-3.3.2-5], when it would send it on a session resume, by clearing it
 * from the queue (outgoingClearMessageId) without sending. This layer over that call counts such
 * messages (`messages/expired`); nothing else changes.
 */

import type { PersistenceLayer } from './persistence.js'

export function countExpired (expired: () => void): PersistenceLayer {
  return (next) => ({
    async outgoingClearMessageId (client, packet) {
      // aedes' absolute expiry (epoch ms) on a packet published with messageExpiryInterval
      const at = (packet as { messageExpiry?: unknown }).messageExpiry
      if (typeof at === 'number' && at <= Date.now()) expired()
      return await next.outgoingClearMessageId(client, packet)
    }
  })
}
