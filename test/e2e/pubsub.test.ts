// mqtt/publish, mqtt/subscribe and mqtt/unsubscribe act on real clients and answer {"code": N}.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestNode } from '../helpers.js'
import { nextMessage } from '../support/mqtt.js'
import { eventually } from '../support/wait.js'

test('publish through the API reaches a subscriber, once per comma-separated topic', async (t) => {
  const n = await startTestNode(t)
  const sub = await n.client({ clientId: 'listener' })
  await sub.subscribeAsync('news/#', { qos: 1 })
  const got: string[] = []
  sub.on('message', (topic, payload) => got.push(`${topic}=${payload.toString()}`))
  const r = await n.api('POST', '/mqtt/publish', { body: { topic: 'news/a,news/b', payload: 'hi', qos: 1 } })
  assert.deepEqual(r.body, { code: 0 })
  await eventually(() => got.length === 2)
  assert.deepEqual(got.sort(), ['news/a=hi', 'news/b=hi'])
  const alias = await n.api('POST', '/mqtt/publish', { body: { topics: 'news/c', payload: 'alias' } })
  assert.deepEqual(alias.body, { code: 0 })
  await eventually(() => got.length === 3)
})

test('a retained publish is kept and delivered to a later subscriber', async (t) => {
  const n = await startTestNode(t)
  await n.api('POST', '/mqtt/publish', { body: { topic: 'r/1', payload: 'kept', retain: true } })
  const late = await n.client({ clientId: 'late' })
  const msg = nextMessage(late)
  await late.subscribeAsync('r/1')
  const m = await msg
  assert.equal(m.payload, 'kept')
  assert.equal(m.retain, true)
})

test('a wildcard or empty topic is code 115 and nothing is published', async (t) => {
  const n = await startTestNode(t)
  const sub = await n.client({ clientId: 'watch' })
  await sub.subscribeAsync('#')
  let count = 0
  sub.on('message', () => { count++ })
  assert.deepEqual((await n.api('POST', '/mqtt/publish', { body: { topic: 'ok/t,bad/+', payload: 'x' } })).body, { code: 115 })
  assert.deepEqual((await n.api('POST', '/mqtt/publish', { body: { topic: 'a/#' } })).body, { code: 115 })
  assert.deepEqual((await n.api('POST', '/mqtt/publish', { body: { topic: 'a,,b' } })).body, { code: 115 })
  await new Promise(resolve => setTimeout(resolve, 200))
  assert.equal(count, 0)
})

test('subscribe on behalf of a client, then the client receives; unsubscribe stops it', async (t) => {
  const n = await startTestNode(t)
  const c = await n.client({ clientId: 'puppet' })
  assert.deepEqual((await n.api('POST', '/mqtt/subscribe', { body: { topic: 'cmd/1,cmd/2', qos: 1, client_id: 'puppet' } })).body, { code: 0 })
  await eventually(async () => (await n.api('GET', '/subscriptions/puppet')).body.length === 2)
  const msg = nextMessage(c)
  await n.api('POST', '/mqtt/publish', { body: { topic: 'cmd/2', payload: 'go', qos: 1 } })
  assert.equal((await msg).payload, 'go')
  assert.deepEqual((await n.api('POST', '/mqtt/unsubscribe', { body: { topic: 'cmd/2', client_id: 'puppet', payload: 'ignored', qos: 1, retain: false } })).body, { code: 0 })
  assert.deepEqual((await n.api('GET', '/subscriptions/puppet')).body.map((s: any) => s.topic), ['cmd/1'])
})

test('subscribe or unsubscribe for a client that is not online is code 112; a bad filter is 115', async (t) => {
  const n = await startTestNode(t)
  await n.client({ clientId: 'here' })
  assert.deepEqual((await n.api('POST', '/mqtt/subscribe', { body: { topic: 't', client_id: 'ghost' } })).body, { code: 112 })
  assert.deepEqual((await n.api('POST', '/mqtt/unsubscribe', { body: { topic: 't', client_id: 'ghost' } })).body, { code: 112 })
  assert.deepEqual((await n.api('POST', '/mqtt/subscribe', { body: { topic: 'a/#/b', client_id: 'here' } })).body, { code: 115 })
  assert.deepEqual((await n.api('POST', '/mqtt/subscribe', { body: { topic: 'a/b+', client_id: 'here' } })).body, { code: 115 })
  assert.deepEqual((await n.api('GET', '/subscriptions/here')).body, [])
})

test('bad pubsub input is a 400 with the right code, never a 500', async (t) => {
  const n = await startTestNode(t)
  const cases: Array<[unknown, number]> = [
    [{ payload: 'no topic' }, 107],
    [{ topic: 't', qos: 3 }, 108],
    [{ topic: 't', qos: '1' }, 108],
    [{ topic: '' }, 108],
    [{ topic: 't', retain: 'yes' }, 108],
    [{ topic: { $ne: null } }, 108],
    [{ topic: 't', extra: 1 }, 108]
  ]
  for (const [body, code] of cases) {
    const r = await n.api('POST', '/mqtt/publish', { body })
    assert.equal(r.status, 400, JSON.stringify(body))
    assert.equal(r.body.code, code, `${JSON.stringify(body)} → ${JSON.stringify(r.body)}`)
  }
  const notJson = await n.api('POST', '/mqtt/publish', { raw: '{"topic":', headers: { 'content-type': 'application/json' } })
  assert.deepEqual([notJson.status, notJson.body.code], [400, 109])
  const form = await n.api('POST', '/mqtt/publish', { raw: 'topic=t', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  assert.deepEqual([form.status, form.body.code], [415, 109])
  const noSub = await n.api('POST', '/mqtt/subscribe', { body: { topic: 't' } })
  assert.deepEqual([noSub.status, noSub.body.code], [400, 107])
})
