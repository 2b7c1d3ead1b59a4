/**
 * The MQTT policy of a node: who may connect (client id length, bans, the auth plugins in turn,
 * allow_anonymous) and where a client may publish (topic levels). Built by the node from its
 * settings, ban list and auth plugins, passed in as plain functions, so the broker imports no
 * service; the result is the authenticate / authorizePublish pair of BrokerHooks.
 */

import type { BrokerHooks, ConnInfo } from './types.js'

/** [MQTT-3.2.2-3] CONNACK return codes the policy refuses with */
export const CONNACK = { ACCEPTED: 0, IDENTIFIER_REJECTED: 2, BAD_USERNAME_OR_PASSWORD: 4, NOT_AUTHORIZED: 5 } as const

/** A client as bans match it. */
export interface ClientIdentity {
  clientId: string
  username: string | null
  ip: string | null
}

/** An auth plugin's answer: the client passes, fails, or is not listed there (the next one decides). */
export type AuthAnswer = 'ok' | 'bad' | 'next'

export interface MqttPolicy {
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
}

export function identity (c: ConnInfo): ClientIdentity {
  return { clientId: c.clientId, username: c.username, ip: c.ipaddress }
}

export function policyHooks (p: MqttPolicy): Required<Pick<BrokerHooks, 'authenticate' | 'authorizePublish'>> {
  return {
    async authenticate (c, username, password) {
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
    authorizePublish (_clientId, topic) {
      const max = p.maxTopicLevels()
      return max === 0 || topic.split('/').length <= max
    }
  }
}
