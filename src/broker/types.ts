/** Public shapes of the broker module; the REST layer maps these to EMQ X wire types. */

import type { PersistenceLayer } from './persistence.js'

export type ListenerProtocol = 'mqtt:tcp' | 'mqtt:ws' | 'mqtt:ssl'
export type QoS = 0 | 1 | 2

/** Live per-connection traffic; the object is updated in place by the wire tap. */
export interface ConnCounters {
  recvPkt: number
  sendPkt: number
  recvOct: number
  sendOct: number
  recvMsg: number
  sendMsg: number
}

export interface ConnInfo {
  readonly clientId: string
  readonly username: string | null
  readonly ipaddress: string
  readonly port: number
  readonly keepalive: number
  readonly protoName: 'MQTT' | 'MQIsdp'
  readonly protoVer: 3 | 4 | 5
  /** bridge bit of the protocol version byte (0x80), set by bridging brokers */
  readonly isBridge: boolean
  readonly cleanStart: boolean
  /** epoch ms of the CONNECT */
  readonly connectedAt: number
  readonly willTopic: string | null
  /** 'nossl', or the CN of a TLS client certificate that verified against the listener's CA */
  readonly peercert: string
  readonly listener: ListenerProtocol
  readonly counters: Readonly<ConnCounters>
  /**
   * Seconds the session outlives the connection: an MQTT 5 client's Session Expiry Interval
   * (0 when it sent none), for MQTT 3.1/3.1.1 EMQ X's rule (0 for a clean session, else 2 h)
   */
  readonly expiryInterval: number
  /** MQTT 5 Receive Maximum of the client's CONNECT; 65535 (the standard's default) when absent or MQTT 3.1.1 */
  readonly receiveMaximum: number
  /** MQTT 5 Topic Alias Maximum of the client's CONNECT; 0 (no aliases) when absent or MQTT 3.1.1 */
  readonly topicAliasMaximum: number
  /** MQTT 5 Maximum Packet Size of the client's CONNECT; 0 when it set none (no limit) */
  readonly maximumPacketSize: number
}

export interface SessionInfo {
  readonly clientId: string
  readonly username: string | null
  readonly cleanStart: boolean
  readonly createdAt: number
  readonly connected: boolean
  readonly subscriptionsCount: number
  readonly inflightLen: number
  readonly mqueueLen: number
  readonly mqueueDropped: number
  readonly deliverMsg: number
  readonly enqueueMsg: number
  readonly awaitingRelLen: number
  readonly maxInflight: number
  readonly maxMqueue: number
  readonly maxAwaitingRel: number
  readonly maxSubscriptions: number
  readonly expiryInterval: number
  /** of the session's latest connection on this node; undefined for a session restored from the store since */
  readonly protoVer?: 3 | 4 | 5 | undefined
  readonly protoName?: 'MQTT' | 'MQIsdp' | undefined
}

export interface SubscriptionInfo {
  readonly clientId: string
  readonly topic: string
  readonly qos: QoS
}

export interface RouteInfo {
  readonly topic: string
  readonly nodes: readonly string[]
}

export interface ListenerInfo {
  protocol: ListenerProtocol
  listenOn: string
  acceptors: number
  maxConns: number
  currentConns: number
  shutdownCount: Record<string, number>
  /** the socket is bound and accepting (GET /status?format=json) */
  listening: boolean
}

export interface Logger {
  info (o: object, msg?: string): void
  warn (o: object, msg?: string): void
  error (o: object, msg?: string): void
}

/** An authorization decision: allowed, denied, or denied and the connection closed. */
export type Authorization = boolean | 'disconnect'

export interface BrokerHooks {
  /** 0 = accept, else the CONNACK return code to refuse with (4 bad user/password, 5 not authorized) */
  authenticate?: (c: ConnInfo, username: string | undefined, password: Buffer | undefined) => Promise<number>
  /**
   * A client's PUBLISH (or its will; `client` is null for the will of a client of a dead node):
   * false drops the message silently (it is still acknowledged), 'disconnect' closes the connection
   * instead. Cached per connection and topic until cleanAclCache.
   */
  authorizePublish?: (client: ConnInfo | null, topic: string, payload: Buffer, retain: boolean) => Authorization
  /**
   * A client's SUBSCRIBE, per filter: false refuses it (0x80 in SUBACK [MQTT-3.9.3], nothing
   * subscribed or stored), 'disconnect' closes the connection instead. Not asked for subscriptions
   * made through Broker.subscribe. Cached like authorizePublish.
   */
  authorizeSubscribe?: (client: ConnInfo, topic: string) => Authorization
  /** for a PUBLISH with the retain flag: false delivers it but does not keep it as the retained message */
  keepRetained?: (topic: string, payload: Buffer) => boolean
  /**
   * every PUBLISH about to be routed: from a client (after authorizePublish allowed it) or through
   * Broker.publish; true takes the message (it is still acknowledged, but not routed). `msg` is the
   * packet itself (no copy is made per message): read it, do not keep or change it.
   */
  publish?: (clientId: string | null, msg: Message) => boolean
  /** a message is being forwarded to the subscriber `clientId` (aedes' authorizeForward); `msg` as for publish */
  delivered?: (clientId: string, msg: Message) => void
  /** a connection that had CONNECTed closed, with its reason in EMQ X shutdown-count terms (closed, kicked, takeover, ...) */
  disconnected?: (c: ConnInfo, reason: string) => void
}

/** A message as the hooks see it. */
export interface Message {
  readonly topic: string
  readonly payload: Buffer
  readonly qos: QoS
  readonly retain: boolean
}

/** broker.shared_subscription_strategy: how a shared subscription's group picks the member for a message */
export type SharedStrategy = 'random' | 'round_robin' | 'sticky' | 'hash'

/** the member picked for a message; node '' when the group has no member (first: this call decided) */
export interface SharedPick { node: string, clientId: string, first: boolean, /** an offline member's subscription QoS (node '') */ qos?: QoS }

/** What a clustered node's shared subscriptions ask of the cluster. */
export interface SharedBus {
  readonly node: string
  /** resolves once the member counts in every node's picks */
  join (group: string, clientId: string): Promise<void>
  leave (group: string, clientId: string): void
  /** a persistent member went offline: with no live member left, its session may queue the group's messages */
  offline (group: string, clientId: string, qos: QoS): void
  /** that offline member's session is gone */
  forget (group: string, clientId: string): void
  /** the one member of `group` for message `key`, cluster-wide by `strategy`; records `record` (QoS 1/2) for the chosen node; null: decided before, no member */
  pick (group: string, key: string, strategy: SharedStrategy, publisherHash: number, record: string): Promise<SharedPick | null>
  /** this node's member has message `key` (acknowledged, or stored in its session): its record goes */
  done (group: string, key: string): void
  /** tells the other nodes to deliver `key` if it is theirs */
  announce (group: string, key: string, record: string): void
  attach (handlers: SharedHandlers): void
}

/** What the cluster asks of a node's shared subscriptions. */
export interface SharedHandlers {
  /** dispatch a recorded message again; origin: this node sends it again (it picks and announces) */
  again: (group: string, key: string, record: string, origin: boolean) => Promise<void>
  /** the records (group \0 key) this node is delivering now */
  mine: () => Set<string>
}

export interface BrokerOptions {
  nodeName: string
  /** read at every message to a shared subscription (a hot config) */
  sharedStrategy?: () => SharedStrategy
  /** clustered: shared subscription groups over every node (src/cluster/shared-bus.ts) */
  sharedBus?: SharedBus | undefined
  host?: string
  mqttPort: number
  wsPort: number | null
  tls?: { port: number, cert: string, key: string, ca?: string } | undefined
  persistence?: unknown
  /** the node's layers of the persistence chain (the retainer's), placed above the broker's observer */
  persistenceLayers?: PersistenceLayer[]
  mq?: unknown
  /**
   * Clustered: each node's aedes only sees the messages its own clients subscribed to, so
   * `messages/dropped` is counted where a message is published, from how many nodes the bus
   * delivered it to (`receivers`), not from the local subscriptions.
   */
  busReceivers?: ((fn: (packet: object, receivers: number) => void) => void) | undefined
  /** clustered: other nodes store retained messages in the same store, so retained/count is counted there */
  retainedCount?: (() => Promise<number>) | undefined
  maxConns?: number
  hooks?: BrokerHooks
  log?: Logger
  /** behind a reverse proxy: MQTT over WebSocket takes the client address from X-Forwarded-For */
  trustProxy?: boolean
  /** live limit on a client packet's remaining length: a larger frame closes the connection */
  maxPacketSize?: () => number
  /** ms a new connection has to send CONNECT before it is closed (aedes connectTimeout); default 10 000 */
  connectTimeout?: number
  /** most QoS 1/2 messages queued for an offline persistent session; newer ones are dropped; 0 = unlimited, default 1000 */
  maxMqueue?: number
  /** a subscriber with more than `bytes` unsent for `seconds` is disconnected (slow_consumer); default 16 MB, 5 s */
  slowConsumer?: { bytes: number, seconds: number }
  /** bytes a connection may send before its CONNACK (default 1 MiB); more closes it */
  heldBeforeConnack?: number
  /** MQTT 5: live Server Keep Alive in seconds; a v5 client asking for more (or 0) is held to it; 0 = off (default) */
  serverKeepAlive?: () => number
  /** inbound QoS 2 messages a connection may hold awaiting PUBREL, told to v5 clients as Receive Maximum; default 1000 */
  maxAwaitingRel?: number
  /** MQTT 5: Topic Alias Maximum advertised to clients, the aliases a client may set (aedes'); default 0 (none) */
  topicAliasMaximum?: number
  /** MQTT 5: Response Information in CONNACK for a client that asks for it; undefined = none */
  responseInformation?: (clientId: string, username: string | null) => string | undefined
  /** persistent sessions kept by `persistence`, listed as offline sessions at start */
  storedSessions?: () => Promise<ReadonlyArray<{ clientId: string, subscriptions: ReadonlyArray<[string, QoS]>, queued: number }>>
  /** where a v5 session's own expiry is kept while its client is away, so that it survives a restart */
  sessionExpiries?: SessionExpiryStore
}

/** A v5 session's Session Expiry Interval (s) and when its client left (epoch ms), by client id. */
export interface StoredExpiry { interval: number, disconnectedAt: number }

export interface SessionExpiryStore {
  all: () => Promise<Record<string, unknown>>
  set: (clientId: string, expiry: StoredExpiry) => Promise<void>
  delete: (clientId: string) => Promise<unknown>
}

/**
 * Whom a subscribe on behalf reaches: a connected client only (the seed), also an offline
 * persistent session, or also a client id no session exists for (a persistent session is made).
 */
export type OnBehalf = 'online' | 'offline' | 'create'

/** A message the session store holds for a client: queued (no packet id yet) or in flight (sent, unacknowledged). */
export interface SessionMessage {
  brokerId: string
  brokerCounter: number
  topic: string
  qos: QoS
  payload: Buffer
  /** set once sent to the client: the message is in flight */
  packetId: number | undefined
  /** epoch ms, when the message carries an expiry (MQTT 5 Message Expiry Interval) */
  expiresAt: number | undefined
  /** epoch ms, derived from the expiry and its interval when both are known */
  publishedAt: number | undefined
  fromClientId: string | undefined
}

export interface PublishRequest {
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  clientId?: string
  /** MQTT 5 PUBLISH properties (mqtt-packet's names): sent to MQTT 5 subscribers only */
  properties?: PublishProperties
}

/** The MQTT 5 PUBLISH properties a message may carry from the API [MQTT-3.3.2.3]. */
export interface PublishProperties {
  payloadFormatIndicator?: boolean
  /** seconds; the message is not delivered (nor kept queued) after it */
  messageExpiryInterval?: number
  contentType?: string
  responseTopic?: string
  correlationData?: Buffer
  userProperties?: Record<string, string>
}
