/**
 * Connections the server closes (kickout, ban, session discard, slow consumer, shutdown): an MQTT 5
 * client is told why with a DISCONNECT and its reason code first [MQTT-3.14.2.1], through aedes 2's
 * own `client.disconnect`; an MQTT 3.1/3.1.1 client, which has no server DISCONNECT, is just closed
 * as before. A takeover's 0x8E aedes sends itself.
 */

import type { Client } from 'aedes'
import type { ConnState } from './conn.js'

/** MQTT 5 reason codes by our close reason (EMQ X shutdown-count terms) */
export const DISCONNECT_REASON_CODES: Readonly<Record<string, number>> = {
  kicked: 0x98, // Administrative action
  discarded: 0x98, // Administrative action: the session was discarded through the API
  // not 0x8A (Banned): that is a CONNACK code, not a DISCONNECT one [MQTT-3.14.2.1], and clients
  // (mqtt.js, Paho) drop a DISCONNECT carrying it as malformed without reading it
  banned: 0x98, // Administrative action
  not_authorized: 0x87, // Not authorized: mqtt.acl_deny_action disconnect
  slow_consumer: 0x97, // Quota exceeded
  shutdown: 0x8b // Server shutting down
}

/**
 * Closes `client`'s connection for `reason`. An MQTT 5 client gets its DISCONNECT, and the
 * connection lingers (conn.ts) so that what is already buffered for it, the DISCONNECT last, can
 * still leave before the socket goes.
 */
export function closeClient (client: Client, state: ConnState | undefined, reason: string): void {
  const reasonCode = DISCONNECT_REASON_CODES[reason]
  // already closing with a DISCONNECT, what it buffered still leaving: left to its linger
  if (client.conn.writableEnded) return
  if (client.version !== 5 || reasonCode === undefined || !client.connected) {
    client.conn.destroy()
    return
  }
  if (state !== undefined) state.linger = true
  client.disconnect({ reasonCode })
}

/**
 * At shutdown, before the listeners destroy every connection: each connected MQTT 5 client is
 * sent DISCONNECT 0x8B, and its connection waited for (it closes once the client has read it),
 * at most `boundMs` in all. MQTT 3.1/3.1.1 clients are left to the listeners, as before.
 */
export async function disconnectForShutdown (clients: Iterable<Client>, stateOf: (c: Client) => ConnState | undefined, boundMs: number): Promise<void> {
  const closed: Array<Promise<void>> = []
  for (const c of clients) {
    if (c.version !== 5 || !c.connected || c.closed) continue
    const conn = c.conn
    closed.push(new Promise(resolve => { conn.once('close', () => { resolve() }) }))
    closeClient(c, stateOf(c), 'shutdown')
  }
  if (closed.length === 0) return
  let timer: NodeJS.Timeout | undefined
  await Promise.race([Promise.all(closed), new Promise(resolve => { timer = setTimeout(resolve, boundMs) })])
  clearTimeout(timer)
}
