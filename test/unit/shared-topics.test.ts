// Shared subscription filters: which are shared, their group and real filter, and topic matching.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseShared, routeFilter, topicMatches } from '../../src/broker/shared-topics.js'

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
