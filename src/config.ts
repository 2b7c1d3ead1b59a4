/** The only place that reads process.env. A bad value stops the start with one clear line. */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { readClusterConfig, type ClusterConfig } from './cluster/config.js'

export interface Config {
  mqttPort: number
  wsPort: number | null
  apiPort: number
  host: string
  nodeName: string
  dataDir: string
  mongodbUrl: string | null
  /** start attempts against MongoDB before giving up (about 3.5 s each) */
  mongodbInitRetries: number
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  tls: { port: number, cert: string, key: string, ca?: string } | null
  /** express trust proxy setting; false = ignore X-Forwarded-For */
  trustProxy: boolean
  /** allowed CORS origins; empty = CORS off */
  corsOrigins: string[]
  /** the most of the event loop the API takes while MQTT keeps it busy (src/api/loop-share.ts) */
  loopShare: number
  bodyLimit: string
  maxConns: number
  /** MQTT_CONNECT_TIMEOUT: seconds a new MQTT connection has to send CONNECT */
  connectTimeout: number
  /** MQTT_MAX_MQUEUE: most messages queued for an offline persistent session (0 = unlimited) */
  maxMqueue: number
  /** MQTT_MAX_AWAITING_REL: inbound QoS 2 messages a connection may hold awaiting PUBREL (the v5 Receive Maximum) */
  maxAwaitingRel: number
  /** MQTT_MAX_TOPIC_ALIAS: MQTT 5 Topic Alias Maximum, the aliases a client may set on one connection (0 = none) */
  maxTopicAlias: number
  /** MQTT_RESPONSE_INFORMATION: MQTT 5 Response Information for clients that ask (%c: client id, %u: username); null = none */
  responseInformation: string | null
  /** MQTT_SLOW_CONSUMER_BYTES / _SECONDS: unsent bytes a subscriber may hold, and for how long */
  slowConsumer: { bytes: number, seconds: number }
  /** validate every response against the spec (tests) */
  validateResponses: boolean
  /** CLUSTER_BUS_URL, CLUSTER_SECRET, API_ADVERTISE_URL; null = a node alone */
  cluster: ClusterConfig | null
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

type Env = Record<string, string | undefined>

function port (env: Env, name: string, def: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return def
  const n = Number(raw)
  if (!/^\d+$/.test(raw) || n < 0 || n > 65535) throw new ConfigError(`${name}=${raw} is not a port (0-65535)`)
  return n
}

function positiveInt (env: Env, name: string, def: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return def
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new ConfigError(`${name}=${raw} is not a positive integer`)
  return Number(raw)
}

function nonNegativeInt (env: Env, name: string, def: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return def
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw new ConfigError(`${name}=${raw} is not a non-negative integer`)
  return Number(raw)
}

function bool (env: Env, name: string, def: boolean): boolean {
  const raw = env[name]?.toLowerCase()
  if (raw === undefined || raw === '') return def
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true
  if (['0', 'false', 'no', 'off'].includes(raw)) return false
  throw new ConfigError(`${name}=${env[name]} is not a boolean (true/false)`)
}

function readPem (env: Env, name: string): string {
  const path = env[name] as string
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`${name}=${path} cannot be read: ${(err as Error).message}`)
  }
}

/** each alias holds a topic for the connection's life: a small default, as Mosquitto's (10) */
function topicAlias (env: Env): number {
  const n = nonNegativeInt(env, 'MQTT_MAX_TOPIC_ALIAS', 10)
  if (n > 65535) throw new ConfigError(`MQTT_MAX_TOPIC_ALIAS=${n} is above 65535`)
  return n
}

/** EMQ X's zone max_awaiting_rel; as Receive Maximum it must fit the CONNACK property (1-65535) */
function awaitingRel (env: Env): number {
  const n = positiveInt(env, 'MQTT_MAX_AWAITING_REL', 1000)
  if (n > 65535) throw new ConfigError(`MQTT_MAX_AWAITING_REL=${n} is above 65535`)
  return n
}

function responseInformation (env: Env): string | null {
  const raw = env.MQTT_RESPONSE_INFORMATION
  if (raw === undefined || raw === '') return null
  if (raw.includes('#') || raw.includes('+') || raw.includes('\u0000')) throw new ConfigError(`MQTT_RESPONSE_INFORMATION=${raw} must be a topic prefix without wildcards`)
  return raw
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export function loadConfig (env: Env = process.env): Config {
  const logLevel = (env.LOG_LEVEL ?? 'info') as Config['logLevel']
  if (!LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL=${env.LOG_LEVEL} is not one of ${LEVELS.join(', ')}`)
  const nodeName = env.NODE_NAME ?? 'emqx@127.0.0.1'
  if (!/^[^\s/@]+@[^\s/@]+$/.test(nodeName)) throw new ConfigError(`NODE_NAME=${nodeName} must look like name@host`)
  const wsDisabled = env.MQTT_WS_PORT === 'off'
  let tls: Config['tls'] = null
  if (env.MQTT_TLS_CERT || env.MQTT_TLS_KEY) {
    if (!env.MQTT_TLS_CERT || !env.MQTT_TLS_KEY) throw new ConfigError('MQTT_TLS_CERT and MQTT_TLS_KEY go together')
    tls = { port: port(env, 'MQTT_TLS_PORT', 8883), cert: readPem(env, 'MQTT_TLS_CERT'), key: readPem(env, 'MQTT_TLS_KEY') }
    if (env.MQTT_TLS_CA) tls.ca = readPem(env, 'MQTT_TLS_CA')
  }
  const mongodbUrl = env.MONGODB_URL || null
  const loopShare = Number(env.API_LOOP_SHARE ?? '0.05')
  if (!(loopShare > 0 && loopShare <= 1)) throw new ConfigError(`API_LOOP_SHARE=${env.API_LOOP_SHARE} must be a number above 0 and at most 1`)
  const bodyLimit = env.API_BODY_LIMIT ?? '1mb'
  if (!/^\d+(b|kb|mb)$/i.test(bodyLimit)) throw new ConfigError(`API_BODY_LIMIT=${bodyLimit} must look like 512kb or 1mb`)
  return {
    mqttPort: port(env, 'MQTT_PORT', 1883),
    wsPort: wsDisabled ? null : port(env, 'MQTT_WS_PORT', 8083),
    apiPort: port(env, 'API_PORT', 8080),
    host: env.HOST ?? '0.0.0.0',
    nodeName,
    dataDir: resolve(env.DATA_DIR ?? './data'),
    mongodbUrl,
    mongodbInitRetries: positiveInt(env, 'MONGODB_START_RETRIES', 5),
    logLevel,
    tls,
    trustProxy: bool(env, 'TRUST_PROXY', false),
    corsOrigins: (env.CORS_ORIGINS ?? '').split(',').map(s => s.trim()).filter(Boolean),
    bodyLimit,
    maxConns: positiveInt(env, 'MQTT_MAX_CONNS', 1024000),
    connectTimeout: positiveInt(env, 'MQTT_CONNECT_TIMEOUT', 10),
    maxMqueue: nonNegativeInt(env, 'MQTT_MAX_MQUEUE', 1000),
    maxAwaitingRel: awaitingRel(env),
    maxTopicAlias: topicAlias(env),
    responseInformation: responseInformation(env),
    slowConsumer: { bytes: positiveInt(env, 'MQTT_SLOW_CONSUMER_BYTES', 16 * 1024 * 1024), seconds: positiveInt(env, 'MQTT_SLOW_CONSUMER_SECONDS', 5) },
    validateResponses: bool(env, 'API_VALIDATE_RESPONSES', false),
    loopShare,
    cluster: readClusterConfig(env, mongodbUrl, message => new ConfigError(message))
  }
}
