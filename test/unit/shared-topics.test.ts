// Shared subscription filters: which are shared, their group and real filter, and topic matching.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isRefused, malformedShared, parseShared, routeFilter, screenSubscribe, topicMatches } from '../../src/broker/shared-topics.js'
import { isValidTopicFilter } from '../../src/services/topics.js'

test('$share/<group>/<filter> and $queue/<filter> parse; malformed ones are not shared', () => {
  assert.deepEqual(parseShared('$share/g1/x/y'), { group: 'g1', filter: 'x/y' })
  assert.deepEqual(parseShared('$share/g/#'), { group: 'g', filter: '#' })
  assert.deepEqual(parseShared('$queue/a/+'), { group: '$queue', filter: 'a/+' })
  for (const t of ['x/y', '$share/g', '$share//x', '$share/g/', '$share/g+/x', '$share/#/x', '$queue/', '$SYS/x']) assert.equal(parseShared(t), null, t)
  assert.equal(routeFilter('$share/g/a/b'), 'a/b')
  assert.equal(routeFilter('a/b'), 'a/b')
})

test('topic matching: + one level, # the rest, $ topics only by filters naming them', () => {
  assert.ok(topicMatches('a/+/c', 'a/b/c'))
  assert.ok(!topicMatches('a/+/c', 'a/b/d'))
  assert.ok(topicMatches('a/#', 'a'))
  assert.ok(topicMatches('a/#', 'a/b/c'))
  assert.ok(!topicMatches('a/b', 'a/b/c'))
  assert.ok(!topicMatches('#', '$SYS/x'))
  assert.ok(topicMatches('$SYS/#', '$SYS/x'))
})

test('malformed shared filters: marked refused, wildcards in a share name made to pass aedes\' topic check, unique within a packet', () => {
  for (const t of ['$share/', '$share/g', '$share//x', '$share/g/', '$share/g+/x', '$queue/']) assert.ok(malformedShared(t), t)
  for (const t of ['$share/g/x', '$queue/x', '$share', '$queue', 'a/b', '$SYS/x']) assert.ok(!malformedShared(t), t)
  const subs = [{ topic: '$share/g+/x' }, { topic: '$share/g#/x' }, { topic: '$share/g/x' }, { topic: '$queue/' }]
  screenSubscribe(subs)
  assert.deepEqual(subs.map(isRefused), [true, true, false, true])
  assert.ok(subs.every(s => !/[+#]/.test(s.topic.split('/')[1] ?? '')))
  assert.equal(new Set(subs.map(s => s.topic)).size, 4)
  assert.equal(subs[2]!.topic, '$share/g/x')
})

test('the API\'s filter check refuses the same malformed shared filters', () => {
  for (const t of ['$share/g', '$share/g+/x', '$share//x', '$queue/', '$share/g/a+']) assert.ok(!isValidTopicFilter(t), t)
  for (const t of ['$share/g/a/+', '$queue/#', '$share/g/x']) assert.ok(isValidTopicFilter(t), t)
})
