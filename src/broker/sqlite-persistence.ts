/**
 * Durable aedes persistence for the embedded (SQLite) deployment: one file, <dataDir>/mqtt-sessions.db.
 *
 * Reads and topic matching stay in memory: the class extends aedes-persistence's in-memory implementation
 * (its subscription trie, retained-message matcher and incoming map) and owns the outgoing queues and wills
 * itself, because those need a row id per entry (outgoing) or must keep the brokerId they were stored with
 * (wills). The file is written with WAL + synchronous=FULL, by group commit: the writes asked for in one
 * loop turn go to disk in one transaction (one fsync) at the end of the turn, and their promises resolve
 * once it committed, so by the time aedes' promise resolves the change survives SIGKILL or power loss.
 * Memory is updated once the write committed, except for the delivery bookkeeping a crash may undo without
 * loss (a QoS 1 packet id, a message cleared after its PUBACK/PUBCOMP: at worst it is sent again, as DUP):
 * those change memory at once and ride along with the next transaction, within LAZY_MS, so a queue drained
 * message by message does not pay one fsync per message. The factory loads the file back into memory.
 */
import { mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import Database from 'better-sqlite3'
import type { Database as Db, Statement } from 'better-sqlite3'
import { collectStoredSessions, type StoredSession } from './stored-sessions.js'

export const MQTT_SESSIONS_FILE = 'mqtt-sessions.db'
/** longest a write nobody waits for stays uncommitted */
const LAZY_MS = 10

interface PendingWrite {
  run: () => unknown
  /** absent: nobody waits (a lazy write) */
  resolve?: (value: unknown) => void
  reject?: (err: unknown) => void
}

/** A packet as aedes hands it to persistence (aedes-packet, a PUBREL, a will or a retained copy). */
export interface PersistedPacket {
  cmd?: string | undefined
  topic?: string | undefined
  payload?: Buffer | Uint8Array | string | undefined
  qos?: number | undefined
  retain?: boolean | undefined
  dup?: boolean | undefined
  messageId?: number | undefined
  brokerId?: string | null | undefined
  brokerCounter?: number | undefined
  clientId?: string | undefined
  nl?: boolean | undefined
  properties?: Record<string, unknown> | undefined
  messageExpiry?: number | undefined
  [key: string]: unknown
}

export interface StoredSubscription {
  topic: string
  qos: number
  rh?: number | undefined
  rap?: boolean | undefined
  nl?: boolean | undefined
  subscriptionIdentifier?: number | undefined
}

export interface ClientRef { id: string }
export interface BrokerRef { id: string, counter: number }

/** The in-memory implementation this class inherits reads and matching from (asyncPersistence.js). */
interface MemoryPersistence {
  readonly broker: BrokerRef | undefined
  setup (broker: BrokerRef): Promise<void>
  storeRetained (packet: PersistedPacket): Promise<void>
  createRetainedStream (pattern: string): Readable
  createRetainedStreamCombi (patterns: string[]): Readable
  addSubscriptions (client: ClientRef, subs: StoredSubscription[]): Promise<void>
  removeSubscriptions (client: ClientRef, topics: string[]): Promise<void>
  subscriptionsByClient (client: ClientRef): Promise<StoredSubscription[]>
  subscriptionsByTopic (topic: string): Promise<Array<StoredSubscription & { clientId: string }>>
  countOffline (): Promise<{ subsCount: number, clientsCount: number }>
  cleanSubscriptions (client: ClientRef): Promise<void>
  incomingStorePacket (client: ClientRef, packet: PersistedPacket): Promise<void>
  incomingGetPacket (client: ClientRef, packet: { messageId?: number | undefined }): Promise<PersistedPacket>
  incomingDelPacket (client: ClientRef, packet: { messageId?: number | undefined }): Promise<void>
  cleanIncoming (client: ClientRef): Promise<void>
  getClientList (topic: string): Readable
  destroy (): Promise<void>
}
type PacketCtor = new (original: PersistedPacket, broker?: BrokerRef) => PersistedPacket
type MemoryPersistenceCtor = (new () => MemoryPersistence) & { Packet: PacketCtor }

// CommonJS without typings for this entry point; its Packet is the aedes-packet aedes itself uses
const MemoryPersistenceBase = createRequire(import.meta.url)('aedes-persistence/asyncPersistence.js') as MemoryPersistenceCtor
const Packet = MemoryPersistenceBase.Packet

const SCHEMA = `
CREATE TABLE IF NOT EXISTS subscriptions (
  client_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  qos INTEGER,
  rh INTEGER,
  rap INTEGER,
  nl INTEGER,
  sub_id TEXT,
  PRIMARY KEY (client_id, topic)
);
CREATE TABLE IF NOT EXISTS retained (
  key TEXT NOT NULL PRIMARY KEY,
  ${packetColumns()}
);
CREATE TABLE IF NOT EXISTS outgoing (
  seq INTEGER PRIMARY KEY,
  client_id TEXT NOT NULL,
  ${packetColumns()}
);
CREATE INDEX IF NOT EXISTS outgoing_client ON outgoing (client_id, seq);
CREATE TABLE IF NOT EXISTS incoming (
  client_id TEXT NOT NULL,
  key TEXT NOT NULL,
  ${packetColumns()},
  PRIMARY KEY (client_id, key)
);
CREATE TABLE IF NOT EXISTS wills (
  client_id TEXT NOT NULL PRIMARY KEY,
  ${packetColumns()}
);
`

// payload is BLOB-affine so a string payload stays TEXT and a Buffer stays BLOB: each comes back as it went in
function packetColumns (): string {
  return `cmd TEXT, topic TEXT, payload BLOB, qos INTEGER, retain INTEGER, dup INTEGER,
  message_id INTEGER, broker_id TEXT, broker_counter INTEGER, extra TEXT`
}
const PACKET_COLS = 'cmd, topic, payload, qos, retain, dup, message_id, broker_id, broker_counter, extra'
const PACKET_PARAMS = '@cmd, @topic, @payload, @qos, @retain, @dup, @message_id, @broker_id, @broker_counter, @extra'
const PACKET_UPDATE = PACKET_COLS.split(', ').map(c => `${c} = excluded.${c}`).join(', ')

interface PacketRow {
  cmd: string | null
  topic: string | null
  payload: Buffer | string | null
  qos: number | null
  retain: number | null
  dup: number | null
  message_id: number | null
  broker_id: string | null
  broker_counter: number | null
  extra: string | null
}

interface SubRow {
  client_id: string
  topic: string
  qos: number | null
  rh: number | null
  rap: number | null
  nl: number | null
  sub_id: string | null
}

/** Packet fields aedes (or aedes-packet) reads beyond the column ones; kept as JSON. */
const EXTRA_KEYS = ['clientId', 'nl', 'properties', 'messageExpiry', 'reasonCode'] as const

interface OutgoingEntry {
  seq: number
  packet: PersistedPacket
}

export interface SqlitePersistenceOptions {
  dataDir: string
  /** default mqtt-sessions.db: its own file, so it never contends with the API store's */
  fileName?: string
}

export class SqlitePersistence extends MemoryPersistenceBase {
  readonly file: string
  readonly #db: Db
  readonly #stmt: Record<
    'subUpsert' | 'subDelete' | 'subClean' | 'retainedUpsert' | 'retainedDelete' |
    'outInsert' | 'outSetMessageId' | 'outReplace' | 'outDelete' | 'outPurge' |
    'inUpsert' | 'inDelete' | 'inClean' | 'willUpsert' | 'willDelete', Statement>

  // clientId → queue in delivery order; each entry remembers its row
  #outgoing = new Map<string, OutgoingEntry[]>()
  // clientId → will, with the brokerId it was stored under (so a dead broker's wills are still published)
  #wills = new Map<string, PersistedPacket>()
  /** topic → rows of inbound retained QoS 2 packets, written after the retained copy committed (incomingStorePacket) */
  #afterRetained = new Map<string, Array<() => unknown>>()
  /**
   * Clients that may have rows in subscriptions, incoming and wills: marked when a write adding one is
   * asked for (or found at load), unmarked when a delete of all of them is. A clean CONNECT deletes all
   * three, one commit (an fsync) after the other; for a client with none that is nothing to do, and
   * connecting one at a time ran at the disk's pace. Writes run in the order they are asked for, so a
   * delete skipped here has no earlier write of the client left to undo.
   */
  #mayHave = { subs: new Set<string>(), incoming: new Set<string>(), wills: new Set<string>() }
  /** writes of this loop turn, committed together */
  #pending: PendingWrite[] = []
  #immediate: NodeJS.Immediate | null = null
  #timer: NodeJS.Timeout | null = null
  // made once: better-sqlite3 builds a wrapper per transaction() call
  readonly #savepoint: (w: PendingWrite) => unknown
  readonly #batch: (batch: PendingWrite[], results: Array<{ ok: boolean, value: unknown }>) => void

  /** Use createSqlitePersistence(), which also loads the stored state. */
  constructor (file: string) {
    super()
    this.file = file
    this.#db = openDatabase(file)
    const db = this.#db
    this.#savepoint = db.transaction((w: PendingWrite) => w.run())
    this.#batch = db.transaction((batch: PendingWrite[], results: Array<{ ok: boolean, value: unknown }>) => { this.#runBatch(batch, results) })
    this.#stmt = {
      subUpsert: db.prepare(`INSERT INTO subscriptions (client_id, topic, qos, rh, rap, nl, sub_id)
        VALUES (@client_id, @topic, @qos, @rh, @rap, @nl, @sub_id)
        ON CONFLICT (client_id, topic) DO UPDATE SET qos = excluded.qos, rh = excluded.rh, rap = excluded.rap,
        nl = excluded.nl, sub_id = excluded.sub_id`),
      subDelete: db.prepare('DELETE FROM subscriptions WHERE client_id = ? AND topic = ?'),
      subClean: db.prepare('DELETE FROM subscriptions WHERE client_id = ?'),
      // an upsert keeps the rowid, hence the position the in-memory Map keeps on a re-set
      retainedUpsert: db.prepare(`INSERT INTO retained (key, ${PACKET_COLS}) VALUES (@key, ${PACKET_PARAMS})
        ON CONFLICT (key) DO UPDATE SET ${PACKET_UPDATE}`),
      retainedDelete: db.prepare('DELETE FROM retained WHERE key = ?'),
      outInsert: db.prepare(`INSERT INTO outgoing (client_id, ${PACKET_COLS}) VALUES (@client_id, ${PACKET_PARAMS})`),
      outSetMessageId: db.prepare('UPDATE outgoing SET message_id = ? WHERE seq = ?'),
      outReplace: db.prepare(`UPDATE outgoing SET (${PACKET_COLS}) = (${PACKET_PARAMS}) WHERE seq = @seq`),
      outDelete: db.prepare('DELETE FROM outgoing WHERE seq = ?'),
      outPurge: db.prepare('DELETE FROM outgoing WHERE client_id = ?'),
      inUpsert: db.prepare(`INSERT INTO incoming (client_id, key, ${PACKET_COLS}) VALUES (@client_id, @key, ${PACKET_PARAMS})
        ON CONFLICT (client_id, key) DO UPDATE SET ${PACKET_UPDATE}`),
      inDelete: db.prepare('DELETE FROM incoming WHERE client_id = ? AND key = ?'),
      inClean: db.prepare('DELETE FROM incoming WHERE client_id = ?'),
      willUpsert: db.prepare(`INSERT INTO wills (client_id, ${PACKET_COLS}) VALUES (@client_id, ${PACKET_PARAMS})
        ON CONFLICT (client_id) DO UPDATE SET ${PACKET_UPDATE}`),
      willDelete: db.prepare('DELETE FROM wills WHERE client_id = ?')
    }
  }

  static async open (opts: SqlitePersistenceOptions): Promise<SqlitePersistence> {
    mkdirSync(opts.dataDir, { recursive: true })
    const p = new SqlitePersistence(join(opts.dataDir, opts.fileName ?? MQTT_SESSIONS_FILE))
    try {
      await p.#load()
    } catch (err) {
      p.close()
      throw err
    }
    return p
  }

  async #load (): Promise<void> {
    const db = this.#db
    const subs = new Map<string, StoredSubscription[]>()
    for (const r of db.prepare('SELECT * FROM subscriptions ORDER BY rowid').all() as SubRow[]) {
      let list = subs.get(r.client_id)
      if (list === undefined) subs.set(r.client_id, list = [])
      list.push(decodeSub(r))
    }
    for (const [id, list] of subs) {
      this.#mayHave.subs.add(id)
      await super.addSubscriptions({ id }, list)
    }

    for (const r of db.prepare('SELECT * FROM retained ORDER BY rowid').all() as PacketRow[]) {
      await super.storeRetained(decodePacket(r))
    }
    for (const r of db.prepare('SELECT * FROM incoming ORDER BY rowid').all() as Array<PacketRow & { client_id: string }>) {
      this.#mayHave.incoming.add(r.client_id)
      await super.incomingStorePacket({ id: r.client_id }, decodePacket(r))
    }
    for (const r of db.prepare('SELECT * FROM outgoing ORDER BY seq').all() as Array<PacketRow & { client_id: string, seq: number }>) {
      queueOf(this.#outgoing, r.client_id).push({ seq: r.seq, packet: outgoingPacket(decodePacket(r)) })
    }
    for (const r of db.prepare('SELECT * FROM wills ORDER BY rowid').all() as Array<PacketRow & { client_id: string }>) {
      this.#mayHave.wills.add(r.client_id)
      this.#wills.set(r.client_id, decodePacket(r))
    }
  }

  /** Persistent sessions kept here (subscriptions and queued messages), to list them after a restart. */
  storedSessions (): StoredSession[] {
    return collectStoredSessions(
      this.#db.prepare('SELECT client_id, topic, qos FROM subscriptions ORDER BY client_id, topic').all() as Array<{ client_id: string, topic: string, qos: number }>,
      [...this.#outgoing].map(([clientId, q]) => [clientId, q.length])
    )
  }

  /** Closes the database; idempotent. Later writes reject, reads keep answering from memory. */
  close (): void {
    if (!this.#db.open) return
    this.#flush()
    this.#db.close()
  }

  override async destroy (): Promise<void> {
    try {
      await super.destroy()
    } finally {
      this.#outgoing = new Map()
      this.#wills = new Map()
      this.close()
    }
  }

  // retained messages

  override async storeRetained (packet: PersistedPacket): Promise<void> {
    const topic = packet.topic ?? ''
    const incoming = this.#afterRetained.get(topic)
    if (incoming !== undefined) {
      this.#afterRetained.delete(topic)
      try {
        await this.#storeRetained(topic, packet)
      } finally {
        for (const write of incoming) this.#lazy(write)
      }
      return
    }
    await this.#storeRetained(topic, packet)
  }

  async #storeRetained (topic: string, packet: PersistedPacket): Promise<void> {
    // [MQTT-3.3.1-10] an empty payload clears the retained message
    if (packet.payload == null || packet.payload.length === 0) {
      await this.#write(() => this.#stmt.retainedDelete.run(topic))
      await super.storeRetained({ ...packet, payload: Buffer.alloc(0) })
      return
    }
    const row = { key: topic, ...encodePacket(packet) }
    await this.#write(() => this.#stmt.retainedUpsert.run(row))
    await super.storeRetained(packet)
  }

  // subscriptions

  override async addSubscriptions (client: ClientRef, subs: StoredSubscription[]): Promise<void> {
    this.#mayHave.subs.add(client.id)
    await this.#write(() => {
      for (const s of subs) {
        this.#stmt.subUpsert.run({
          client_id: client.id,
          topic: s.topic,
          qos: num(s.qos),
          rh: num(s.rh),
          rap: bool(s.rap),
          nl: bool(s.nl),
          sub_id: s.subscriptionIdentifier === undefined ? null : JSON.stringify(s.subscriptionIdentifier)
        })
      }
    })
    await super.addSubscriptions(client, subs)
  }

  override async removeSubscriptions (client: ClientRef, topics: string[]): Promise<void> {
    await this.#write(() => {
      for (const topic of topics) this.#stmt.subDelete.run(client.id, topic)
    })
    await super.removeSubscriptions(client, topics)
  }

  override async cleanSubscriptions (client: ClientRef): Promise<void> {
    await this.#deleteAll('subs', client.id, () => this.#stmt.subClean.run(client.id))
    await super.cleanSubscriptions(client)
  }

  // outgoing queues: same matching rules as aedes-persistence's memory implementation

  async outgoingEnqueue (sub: { clientId: string }, packet: PersistedPacket): Promise<void> {
    await this.outgoingEnqueueCombi([sub], packet)
  }

  async outgoingEnqueueCombi (subs: ReadonlyArray<{ clientId: string }>, packet: PersistedPacket): Promise<void> {
    if (subs.length === 0) return
    const added: Array<[string, OutgoingEntry]> = []
    // in the transaction of this loop turn, however many sessions the message is queued for
    await this.#write(() => {
      for (const sub of subs) {
        const copy = new Packet(packet)
        const { lastInsertRowid } = this.#stmt.outInsert.run({ client_id: sub.clientId, ...encodePacket(copy) })
        added.push([sub.clientId, { seq: Number(lastInsertRowid), packet: copy }])
      }
    })
    for (const [id, entry] of added) queueOf(this.#outgoing, id).push(entry)
  }

  async outgoingUpdate (client: ClientRef, packet: PersistedPacket): Promise<void> {
    const queue = this.#outgoing.get(client.id) ?? []
    for (const entry of queue) {
      const stored = entry.packet
      // a PUBREL carries no broker id: matched by packet id alone. aedes-persistence's memory version compares
      // undefined === undefined here, so a second PUBREL overwrote the first one's id and its message was never released
      if (packet.brokerId != null && stored.brokerId === packet.brokerId) {
        if (stored.brokerCounter === packet.brokerCounter) {
          // a resend after reconnect keeps its id: no write (and no fsync) needed
          if (stored.messageId === packet.messageId) return
          stored.messageId = packet.messageId
          const id = num(packet.messageId)
          const write = (): unknown => this.#stmt.outSetMessageId.run(id, entry.seq)
          // QoS 2: the id must survive a crash, or the message would be sent again under a new id and handed over twice
          if ((stored.qos ?? 0) >= 2) await this.#write(write)
          else this.#lazy(write)
          return
        }
        // the packet identifier wraps at 65535: a same-broker entry with another counter may share it, keep looking
      } else if (stored.messageId === packet.messageId) {
        // e.g. a PUBREL replacing the PUBLISH it acknowledges
        const row = { seq: entry.seq, ...encodePacket(packet) }
        entry.packet = packet
        await this.#write(() => this.#stmt.outReplace.run(row))
        return
      }
    }
    throw new Error('no such packet')
  }

  async outgoingClearMessageId (client: ClientRef, packet: { messageId?: number | undefined }): Promise<PersistedPacket | undefined> {
    const queue = this.#outgoing.get(client.id)
    if (queue === undefined) return undefined
    const i = queue.findIndex(e => e.packet.messageId === packet.messageId)
    const entry = queue[i]
    if (entry === undefined) return undefined
    this.#lazy(() => this.#stmt.outDelete.run(entry.seq))
    queue.splice(i, 1)
    if (queue.length === 0) this.#outgoing.delete(client.id)
    return entry.packet
  }

  async purgeOutgoing (clientId: string): Promise<void> {
    await this.#write(() => this.#stmt.outPurge.run(clientId))
    this.#outgoing.delete(clientId)
  }

  outgoingStream (client: ClientRef): Readable {
    // a snapshot: aedes clears entries while it streams them
    return Readable.from((this.#outgoing.get(client.id) ?? []).map(e => e.packet))
  }

  // incoming QoS 2 packets awaiting PUBREL

  override async incomingStorePacket (client: ClientRef, packet: PersistedPacket): Promise<void> {
    const copy = new Packet(packet)
    copy.messageId = packet.messageId
    const row = { client_id: client.id, key: String(packet.messageId), ...encodePacket(copy) }
    this.#mayHave.incoming.add(client.id)
    // aedes stores an inbound QoS 2 packet, then publishes it, then sends PUBREC; a PUBLISH sent again
    // that is found here counts as a duplicate and is not published. Committed on its own, a crash
    // between this commit and the one of the queues it is published to lost the message on the
    // client's resend. Not waited for, it commits in the transaction of that publish (issued in the
    // same loop turn), so both or neither survive, and before the PUBREC, which waits for the publish
    // A retained message is stored in a commit of its own first (aedes waits for it before it queues): its row
    // waits for that commit and goes with the next one, the queues'. A crash between the two then leaves no row,
    // so the resend is published again, and storing the retained copy twice is harmless
    const write = (): unknown => this.#stmt.inUpsert.run(row)
    if (packet.retain === true) queueOf(this.#afterRetained, packet.topic ?? '').push(write)
    else this.#lazy(write)
    await super.incomingStorePacket(client, packet)
  }

  override async incomingDelPacket (client: ClientRef, packet: { messageId?: number | undefined }): Promise<void> {
    // durable: a stale entry would turn the client's next message under this id into a "duplicate"
    await this.#write(() => this.#stmt.inDelete.run(client.id, String(packet.messageId)))
    await super.incomingDelPacket(client, packet)
  }

  override async cleanIncoming (client: ClientRef): Promise<void> {
    await this.#deleteAll('incoming', client.id, () => this.#stmt.inClean.run(client.id))
    await super.cleanIncoming(client)
  }

  // wills

  async putWill (client: ClientRef, packet: PersistedPacket): Promise<void> {
    const broker = this.broker
    if (broker === undefined) throw new Error('persistence is not set up')
    // aedes-persistence tags the will in place, and the abstract suite relies on it
    packet.brokerId = broker.id
    packet.clientId = client.id
    const row = { client_id: client.id, ...encodePacket(packet) }
    this.#mayHave.wills.add(client.id)
    await this.#write(() => this.#stmt.willUpsert.run(row))
    this.#wills.set(client.id, packet)
  }

  async getWill (client: ClientRef): Promise<PersistedPacket | undefined> {
    return this.#wills.get(client.id)
  }

  async delWill (client: ClientRef): Promise<PersistedPacket | undefined> {
    await this.#deleteAll('wills', client.id, () => this.#stmt.willDelete.run(client.id))
    const will = this.#wills.get(client.id)
    this.#wills.delete(client.id)
    return will
  }

  /** Wills of brokers not in `brokers` (not alive): after a restart that includes this broker's previous run. */
  streamWill (brokers: Record<string, unknown> = {}): Readable {
    const wills = [...this.#wills.values()].filter(w => !brokers[String(w.brokerId)])
    return Readable.from(wills)
  }

  /** `run`, deleting every row of `clientId` in `table`, unless it can have none (a failed delete marks it again) */
  async #deleteAll (table: 'subs' | 'incoming' | 'wills', clientId: string, run: () => unknown): Promise<void> {
    const marked = this.#mayHave[table]
    if (!marked.delete(clientId)) return
    try {
      await this.#write(run)
    } catch (err) {
      marked.add(clientId)
      throw err
    }
  }

  /** `run` in this loop turn's transaction; resolves with its result once that committed */
  #write<T> (run: () => T): Promise<T> {
    if (!this.#db.open) return Promise.reject(new TypeError('The database connection is not open'))
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ run, resolve: resolve as (v: unknown) => void, reject })
      this.#immediate ??= setImmediate(() => { this.#flush() })
    })
  }

  /** `run` with the next transaction, at the latest LAZY_MS from now; nobody waits for it */
  #lazy (run: () => unknown): void {
    if (!this.#db.open) return
    this.#pending.push({ run })
    if (this.#immediate === null && this.#timer === null) {
      this.#timer = setTimeout(() => { this.#flush() }, LAZY_MS)
      this.#timer.unref()
    }
  }

  /**
   * One transaction for `batch`. A write someone waits for gets a savepoint, so a failed one undoes only
   * its own statements; a lazy write is one statement, which SQLite undoes alone when it fails, and a
   * savepoint each (two more statements) cost a queue drain a third of its time.
   */
  #runBatch (batch: PendingWrite[], results: Array<{ ok: boolean, value: unknown }>): void {
    for (const w of batch) {
      try {
        results.push({ ok: true, value: w.resolve === undefined ? w.run() : this.#savepoint(w) })
      } catch (err) {
        results.push({ ok: false, value: err })
      }
    }
  }

  /** Commits every pending write in one transaction: one that fails alone is rejected alone. */
  #flush (): void {
    if (this.#immediate !== null) clearImmediate(this.#immediate)
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#immediate = this.#timer = null
    const batch = this.#pending
    if (batch.length === 0) return
    this.#pending = []
    const results: Array<{ ok: boolean, value: unknown }> = []
    try {
      this.#batch(batch, results)
    } catch (err) {
      // the commit failed: nothing of the batch is stored
      for (const w of batch) w.reject?.(err)
      return
    }
    batch.forEach((w, i) => {
      const r = results[i]
      if (r === undefined) return
      if (r.ok) w.resolve?.(r.value)
      else w.reject?.(r.value)
    })
  }
}

/** An aedes `persistence` backed by <dataDir>/<fileName> (default mqtt-sessions.db), with the stored state loaded. */
export async function createSqlitePersistence (opts: SqlitePersistenceOptions): Promise<SqlitePersistence> {
  return await SqlitePersistence.open(opts)
}

function openDatabase (file: string): Db {
  const db = new Database(file)
  try {
    // the state is cached in memory, so a second writer on the file would silently diverge: hold the lock
    // for the connection's lifetime (the OS drops it if the process dies)
    db.pragma('locking_mode = EXCLUSIVE')
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('busy_timeout = 5000')
    db.exec(SCHEMA)
    db.exec('BEGIN EXCLUSIVE; COMMIT')
  } catch (err) {
    db.close()
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') {
      throw new Error(`MQTT session store ${file} is in use by another broker`, { cause: err })
    }
    throw err
  }
  return db
}

function queueOf<T> (map: Map<string, T[]>, id: string): T[] {
  let queue = map.get(id)
  if (queue === undefined) map.set(id, queue = [])
  return queue
}

/** Rebuilds what the memory implementation would hold: aedes-packet for a PUBLISH (keeping its messageId). */
function outgoingPacket (p: PersistedPacket): PersistedPacket {
  if (p.cmd !== 'publish') return p
  const packet = new Packet(p)
  if (p.messageId !== undefined) packet.messageId = p.messageId
  return packet
}

function encodePacket (p: PersistedPacket): PacketRow {
  const extra: Record<string, unknown> = {}
  let hasExtra = false
  for (const k of EXTRA_KEYS) {
    if (p[k] !== undefined) {
      extra[k] = p[k]
      hasExtra = true
    }
  }
  return {
    cmd: str(p.cmd),
    topic: str(p.topic),
    payload: payloadValue(p.payload),
    qos: num(p.qos),
    retain: bool(p.retain),
    dup: bool(p.dup),
    message_id: num(p.messageId),
    broker_id: str(p.brokerId),
    broker_counter: num(p.brokerCounter),
    extra: hasExtra ? JSON.stringify(extra, bufferReplacer) : null
  }
}

function decodePacket (r: PacketRow): PersistedPacket {
  const p: PersistedPacket = {}
  if (r.cmd !== null) p.cmd = r.cmd
  if (r.topic !== null) p.topic = r.topic
  if (r.payload !== null) p.payload = r.payload
  if (r.qos !== null) p.qos = r.qos
  if (r.retain !== null) p.retain = r.retain !== 0
  if (r.dup !== null) p.dup = r.dup !== 0
  if (r.message_id !== null) p.messageId = r.message_id
  if (r.broker_id !== null) p.brokerId = r.broker_id
  if (r.broker_counter !== null) p.brokerCounter = r.broker_counter
  if (r.extra !== null) Object.assign(p, JSON.parse(r.extra, bufferReviver) as Record<string, unknown>)
  return p
}

function decodeSub (r: SubRow): StoredSubscription {
  // undefined (not absent) like the record aedes-persistence keeps for a subscription without them
  const s: StoredSubscription = {
    topic: r.topic,
    qos: r.qos ?? 0,
    rh: r.rh ?? undefined,
    rap: r.rap === null ? undefined : r.rap !== 0,
    nl: r.nl === null ? undefined : r.nl !== 0
  }
  if (r.sub_id !== null) s.subscriptionIdentifier = JSON.parse(r.sub_id) as number
  return s
}

function payloadValue (v: unknown): Buffer | string | null {
  if (Buffer.isBuffer(v) || typeof v === 'string') return v
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  return null
}

function str (v: unknown): string | null {
  return typeof v === 'string' ? v : null
}

function num (v: unknown): number | null {
  return typeof v === 'number' ? v : null
}

function bool (v: unknown): number | null {
  return typeof v === 'boolean' ? (v ? 1 : 0) : null
}

// MQTT 5 properties may hold binary data (correlationData)
function bufferReplacer (this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key]
  return raw instanceof Uint8Array ? { $buffer: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') } : value
}

function bufferReviver (_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && Object.keys(value).length === 1) {
    const b64 = (value as { $buffer?: unknown }).$buffer
    if (typeof b64 === 'string') return Buffer.from(b64, 'base64')
  }
  return value
}
