/**
 * The MQTT policy of a node: who may connect (client id length, bans, the auth plugins in turn,
 * allow_anonymous) and where a client may publish and subscribe (topic levels, the ACL and what a
 * denial costs). Built by the node from its settings, ban list, ACL and auth plugins, passed in as
 * plain functions, so the broker imports no service; the result is the authenticate /
 * authorizePublish / authorizeSubscribe hooks of BrokerHooks.
 */

import type { Authorization, BrokerHooks, ConnInfo } from './types.js'

/** [MQTT-3.2.2-3] CONNACK return codes the policy refuses with */
export const CONNACK = { ACCEPTED: 0, IDENTIFIER_REJECTED: 2, SERVER_UNAVAILABLE: 3, BAD_USERNAME_OR_PASSWORD: 4, NOT_AUTHORIZED: 5 } as const

/** A client as bans match it. */
export interface ClientIdentity {
  clientId: string
  username: string | null
  ip: string | null
}

/** An auth plugin's answer: the client passes, fails, or is not listed there (the next one decides). */
export type AuthAnswer = 'ok' | 'bad' | 'next'

export interface MqttPolicy {
  /** the store answers: a session cannot be opened without it (CONNACK 3, MQTT 5 0x88) */
  storeAvailable: () => boolean | Promise<boolean>
  /** mqtt.max_clientid_len */
  maxClientIdLen: () => number
  /** a ban applies to this client */
  isBanned: (c: ClientIdentity) => boolean
  /** the auth plugins, in turn: each checks the id it authenticates by (user name or client id) */
  authenticators: ReadonlyArray<(c: ConnInfo, username: string | undefined, password: Buffer | undefined) => Promise<AuthAnswer>>
  /** mqtt.allow_anonymous: whether a client no auth plugin accepted gets in */
  allowAnonymous: () => boolean
  /** mqtt.max_topic_levels (0: no limit) */
  maxTopicLevels: () => number
  /** the ACL: whether the client may publish to (`pub`) or subscribe to (`sub`) the topic */
  acl: (c: ConnInfo, action: 'pub' | 'sub', topic: string) => boolean
  /** mqtt.acl_deny_action: a denied client is ignored (the default) or disconnected */
  aclDenyAction: () => 'ignore' | 'disconnect'
}

export function identity (c: ConnInfo): ClientIdentity {
  return { clientId: c.clientId, username: c.username, ip: c.ipaddress }
}

export function policyHooks (p: MqttPolicy): Required<Pick<BrokerHooks, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>> {
  const withinLevels = (topic: string): boolean => {
    const max = p.maxTopicLevels()
    return max === 0 || topic.split('/').length <= max
  }
  const authorized = (c: ConnInfo, action: 'pub' | 'sub', topic: string): Authorization =>
    p.acl(c, action, topic) || (p.aclDenyAction() === 'disconnect' ? 'disconnect' : false)
  return {
    async authenticate (c, username, password) {
      // aedes reads and writes the session before CONNACK: against a store that is down it would
      // hang until the client gives up, where the protocol has an answer for it [MQTT-3.2.2-6]
      if (!await p.storeAvailable()) return CONNACK.SERVER_UNAVAILABLE
      if (c.clientId.length > p.maxClientIdLen()) return CONNACK.IDENTIFIER_REJECTED
      if (p.isBanned(identity(c))) return CONNACK.NOT_AUTHORIZED
      // auth plugins in turn: a listed client passes or fails here; an unlisted one falls through
      for (const check of p.authenticators) {
        const r = await check(c, username, password)
        if (r === 'ok') return CONNACK.ACCEPTED
        if (r === 'bad') return CONNACK.BAD_USERNAME_OR_PASSWORD
      }
      if (!p.allowAnonymous()) return CONNACK.NOT_AUTHORIZED
      return CONNACK.ACCEPTED
    },
    // the will of a client of a dead node has no client left to judge: only the topic is checked
    authorizePublish: (c, topic) => withinLevels(topic) && (c === null || authorized(c, 'pub', topic)),
    authorizeSubscribe: (c, topic) => withinLevels(topic) && authorized(c, 'sub', topic)
  }
}
