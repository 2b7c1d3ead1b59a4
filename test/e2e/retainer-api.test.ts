// The retained-messages API (EMQX v5's paths) against what real MQTT clients retained.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestNode, type TestNode } from '../helpers.js'
import { eventually } from '../support/wait.js'

/** the retained messages a fresh subscriber to `filter` gets, as topic=payload */
async function retainedFor (n: TestNode, id: string, filter: string, waitMs = 300): Promise<string[]> {
  const c = await n.client({ clientId: id })
  const got: string[] = []
  c.on('message', (topic, payload, packet) => { if (packet.retain) got.push(`${topic}=${payload.toString()}`) })
  await new Promise<void>((resolve, reject) => c.subscribe(filter, { qos: 1 }, e => e ? reject(e) : resolve()))
  await new Promise(resolve => setTimeout(resolve, waitMs))
  c.end(true)
  return got.sort()
}

async function retain (n: TestNode, entries: Array<[string, string, 0 | 1]>): Promise<void> {
  const pub = await n.client({ clientId: 'retain-pub' })
  for (const [topic, payload, qos] of entries) await pub.publishAsync(topic, payload, { qos, retain: true })
  // a clean end: the QoS 0 messages are written before the socket closes
  await pub.endAsync()
}

test('list, look up and delete retained messages; clear a subtree and say how many', async (t) => {
  const n = await startTestNode(t)
  await retain(n, [['s/1/temp', '21.5', 1], ['s/2/temp', '19', 0], ['s/2/hum', '40', 1], ['other', 'x', 0]])
  const list = await eventually(async () => {
    const r = await n.api('GET', '/mqtt/retainer/messages')
    return r.body.meta?.count === 4 ? r : null
  })
  assert.deepEqual(list.body.items.map((m: any) => [m.topic, m.qos, m.payload_size]), [['other', 0, 1], ['s/1/temp', 1, 4], ['s/2/hum', 1, 2], ['s/2/temp', 0, 2]])
  assert.match(list.body.items[0].publish_at, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
  assert.equal(list.body.items[0].payload, undefined)
  assert.equal(list.body.items[0].expire_at, undefined)
  assert.equal(list.body.meta.hasnext, false)
  // _match_topic takes a filter; pages and cursors as every list
  assert.deepEqual((await n.api('GET', '/mqtt/retainer/messages?_match_topic=s/%2B/temp')).body.items.map((m: any) => m.topic), ['s/1/temp', 's/2/temp'])
  const p1 = await n.api('GET', '/mqtt/retainer/messages?_limit=3&_sort=-topic')
  assert.deepEqual(p1.body.items.map((m: any) => m.topic), ['s/2/temp', 's/2/hum', 's/1/temp'])
  const p2 = await n.api('GET', `/mqtt/retainer/messages?_limit=3&_sort=-topic&_cursor=${p1.body.meta.cursor}`)
  assert.deepEqual(p2.body.items.map((m: any) => m.topic), ['other'])

  const one = await n.api('GET', '/mqtt/retainer/message/s%2F1%2Ftemp')
  assert.equal(one.status, 200)
  assert.equal(Buffer.from(one.body.payload, 'base64').toString(), '21.5')
  assert.equal(one.body.qos, 1)
  assert.equal((await n.api('GET', '/mqtt/retainer/message/s/1/temp')).body.topic, 's/1/temp')

  assert.equal((await n.api('DELETE', '/mqtt/retainer/message/other')).status, 200)
  assert.equal((await n.api('GET', '/mqtt/retainer/message/other')).status, 404)
  assert.deepEqual(await retainedFor(n, 'check-1', 'other'), [])
  const cleared = await n.api('DELETE', `/mqtt/retainer/messages?_match_topic=${encodeURIComponent('s/2/#')}`)
  assert.deepEqual(cleared.body, { deleted: 2 })
  assert.deepEqual(await retainedFor(n, 'check-2', '#'), ['s/1/temp=21.5'])
  assert.deepEqual((await n.api('GET', '/mqtt/retainer/messages')).body.items.map((m: any) => m.topic), ['s/1/temp'])
  await eventually(async () => (await n.api('GET', `/nodes/${n.nodeName}/stats`)).body['retained/count'] === 1)
  assert.deepEqual((await n.api('DELETE', '/mqtt/retainer/messages?_match_topic=nothing/%23')).body, { deleted: 0 })
})

test('retained API failure paths: unknown topics 404, wildcards in a topic and bad filters 400 (115), unknown keys 400', async (t) => {
  const n = await startTestNode(t)
  const notFound = await n.api('GET', '/mqtt/retainer/message/none')
  assert.equal(notFound.status, 404)
  assert.equal(typeof notFound.body.message, 'string')
  assert.equal((await n.api('DELETE', '/mqtt/retainer/message/none')).status, 404)
  for (const path of ['/mqtt/retainer/message/a%2F%2B', '/mqtt/retainer/message/a%23']) {
    const r = await n.api('GET', path)
    assert.equal(r.status, 400, path)
    assert.equal(r.body.code, 115, path)
  }
  for (const q of ['a/%23/b', 'a%23', 'a/b%2B']) {
    const r = await n.api('GET', `/mqtt/retainer/messages?_match_topic=${q}`)
    assert.equal(r.status, 400, q)
    assert.equal(r.body.code, 115, q)
    assert.equal((await n.api('DELETE', `/mqtt/retainer/messages?_match_topic=${q}`)).body.code, 115)
  }
  // clearing needs a filter: no accidental wipe
  const missing = await n.api('DELETE', '/mqtt/retainer/messages')
  assert.equal(missing.status, 400)
  assert.equal((await n.api('GET', '/mqtt/retainer/messages?topic=a')).status, 400)
  assert.equal((await n.api('GET', '/mqtt/retainer/messages?_sort=payload')).body.code, 108)
  assert.equal((await n.api('GET', '/mqtt/retainer/messages?_cursor=abc')).body.code, 108)
  assert.equal((await n.api('GET', '/mqtt/retainer/messages', { auth: null })).status, 401)
})

test('expiry: an expiring message shows expire_at and leaves the list once expired', async (t) => {
  const n = await startTestNode(t)
  assert.equal((await n.api('PUT', `/nodes/${n.nodeName}/plugin_configs/emqx_retainer`, { body: { 'retainer.expiry_interval': '1s' } })).status, 200)
  await retain(n, [['exp/1', 'soon', 0]])
  const m = await eventually(async () => (await n.api('GET', '/mqtt/retainer/messages')).body.items?.[0])
  assert.match(m.expire_at, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
  assert.ok(m.expire_at > m.publish_at)
  await eventually(async () => (await n.api('GET', '/mqtt/retainer/messages')).body.meta.count === 0, 5000)
  assert.equal((await n.api('GET', '/mqtt/retainer/message/exp%2F1')).status, 404)
})
