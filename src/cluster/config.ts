/**
 * The cluster's settings, read by src/config.ts (still the only reader of the environment).
 * CLUSTER_BUS_URL switches clustering on; without it a node runs alone exactly as before.
 */
export interface ClusterConfig {
  /** mqemitter-redis: redis://host:port[/db] or rediss:// */
  busUrl: string
  /** shared by the nodes: authenticates their calls to each other (POST /internal/rpc) */
  secret: string
  /** where peers reach this node's API; null = http://<HOST or hostname>:<actual API port> */
  advertiseUrl: string | null
}

/** shorter secrets are refused: the RPC route can kick clients and change settings */
export const MIN_SECRET_LENGTH = 16

type Env = Record<string, string | undefined>

/** null when clustering is off; throws `fail(message)` on a bad combination. */
export function readClusterConfig (env: Env, mongodbUrl: string | null, fail: (message: string) => Error): ClusterConfig | null {
  const busUrl = env.CLUSTER_BUS_URL ?? ''
  if (busUrl === '') {
    if (env.CLUSTER_SECRET) throw fail('CLUSTER_SECRET is set but CLUSTER_BUS_URL is not: set both to run a cluster, or neither')
    return null
  }
  let url: URL
  try {
    url = new URL(busUrl)
  } catch {
    throw fail(`CLUSTER_BUS_URL=${busUrl} is not a URL (e.g. redis://127.0.0.1:6379)`)
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw fail(`CLUSTER_BUS_URL=${busUrl} must be a redis:// or rediss:// URL`)
  if (!mongodbUrl) throw fail('CLUSTER_BUS_URL needs MONGODB_URL: the nodes of a cluster share their state (sessions, apps, users, bans, configs) through MongoDB')
  const secret = env.CLUSTER_SECRET ?? ''
  if (secret.length < MIN_SECRET_LENGTH) throw fail(`CLUSTER_SECRET must be set to at least ${MIN_SECRET_LENGTH} characters when CLUSTER_BUS_URL is set (the same on every node)`)
  const advertise = env.API_ADVERTISE_URL ?? ''
  if (advertise !== '') {
    let a: URL
    try {
      a = new URL(advertise)
    } catch {
      throw fail(`API_ADVERTISE_URL=${advertise} is not a URL (e.g. http://node1:8080)`)
    }
    if (a.protocol !== 'http:' && a.protocol !== 'https:') throw fail(`API_ADVERTISE_URL=${advertise} must be an http:// or https:// URL`)
  }
  return { busUrl, secret, advertiseUrl: advertise === '' ? null : advertise.replace(/\/+$/, '') }
}
