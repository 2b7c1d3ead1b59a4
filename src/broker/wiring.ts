/**
 * The live registry (connections, sessions, subscriptions) kept from aedes' events, and the
 * connection states told why a connection ended (keepalive, errors).
 */

import type { EventEmitter } from 'node:events'
import type { Aedes, Client, Subscription } from 'aedes'
import type { ConnState } from './conn.js'
import { NotAuthorized, toQoS } from './hooks.js'
import type { Registry } from './registry.js'
import type { SessionExpiries } from './session-expiry.js'
import type { Logger } from './types.js'
import { disconnectNow, onRegisteredElsewhere, sessionExpiryOf, subscriptionsOf } from './upstream.js'

/** MQTT 5 reason code 0x8D: Keep Alive timeout */
const KEEP_ALIVE_TIMEOUT = 0x8d

export function wireRegistry (aedes: Aedes, registry: Registry, stateOf: (client: Client) => ConnState | undefined, log: Logger, expiries: SessionExpiries): void {
  /** an event of the connection that holds the client id's session now (not one it replaced) */
  const isCurrent = (client: Client): boolean => {
    const s = stateOf(client)?.session
    return s != null && registry.liveSession(client.id) === s
  }

  aedes.on('client', (client) => {
    const st = stateOf(client)
    if (st?.info != null) {
      st.session = registry.connected(st.info)
      st.session.sessionExpiry = sessionExpiryOf(client)
      expiries.back(client.id)
    }
  })
  aedes.on('clientReady', (client) => {
    const st = stateOf(client)
    if (st?.session == null) return
    // a resumed session was restored from persistence without a 'subscribe' event
    registry.resetSubscriptions(client.id, subscriptionsOf(client).map(([t, qos]) => [t, toQoS(qos)]))
    // aedes' emptyQueue has written every queued message before clientReady
    st.session.mqueueLen = 0
  })
  aedes.on('clientDisconnect', (client) => {
    const st = stateOf(client)
    const info = st?.info
    if (info == null) return
    // a v5 DISCONNECT may have changed the interval [MQTT-3.14.2.2.2]
    if (st?.session != null && isCurrent(client)) st.session.sessionExpiry = sessionExpiryOf(client)
    const now = Date.now()
    registry.disconnected(info, now)
    expiries.left(client.id, now)
  })
  // the session was registered on another node: not this node's to expire any more
  onRegisteredElsewhere(aedes, (clientId) => { registry.movedAway(clientId) })
  aedes.on('subscribe', (subs: Subscription[], client) => {
    if (!isCurrent(client)) return
    for (const s of subs) {
      // 0x80 in SUBACK = failure [MQTT-3.9.3]
      if (s.qos <= 2) registry.addSubscription(client.id, s.topic, s.qos)
    }
  })
  aedes.on('unsubscribe', (topics: string[], client) => {
    // the implicit unsubscribe of a closing connection is handled by 'clientDisconnect'
    if (client.closed || !isCurrent(client)) return
    for (const t of topics) registry.removeSubscription(client.id, t)
  })
  aedes.on('keepaliveTimeout', (client) => {
    const st = stateOf(client)
    if (st !== undefined) st.reason ??= 'keepalive_timeout'
    // aedes closes the connection right after this event: a v5 client is told why first
    disconnectNow(client, KEEP_ALIVE_TIMEOUT)
  })
  aedes.on('clientError', (client, err) => {
    // an ACL-denied v5 PUBLISH (answered 0x87) leaves the client connected and in good standing
    if (err instanceof NotAuthorized) return
    const st = stateOf(client)
    if (st !== undefined) st.errored = true
    log.info({ clientId: client.id, err: err.message }, 'client error')
  })
  aedes.on('connectionError', (client, err) => {
    const st = stateOf(client)
    if (st === undefined) return
    st.errored = true
    if (err.message === 'connect did not arrive in time') st.reason ??= 'connect_timeout'
  })
  // aedes reports a store that fails in the background (a session wipe, a will's removal, the will
  // sweep) on its 'error' event (not in its types); with no listener the emit throws, which ended the process
  ;(aedes as unknown as EventEmitter).on('error', (err: Error) => {
    log.warn({ err: err.message }, 'session store operation failed in the background')
  })
}
