import { test } from 'node:test'
import assert from 'node:assert/strict'
import { matchPath } from '../../src/api/paths.js'

const id = (m: ReturnType<typeof matchPath>): string | null => m && m !== 'method' ? m.op.operationId : null

test('trailing slashes are optional', () => {
  assert.equal(id(matchPath('GET', '/brokers/')), 'list_brokers')
  assert.equal(id(matchPath('GET', '/brokers')), 'list_brokers')
  assert.equal(id(matchPath('GET', '/nodes/emqx@127.0.0.1/connections/')), 'list_node_connections')
  assert.equal(id(matchPath('GET', '/')), 'list_api')
})

test('topics: percent-encoded or raw, both canonicalised', () => {
  const enc = matchPath('GET', '/routes/a%2Fb')
  const raw = matchPath('GET', '/routes/a/b')
  assert.ok(enc && enc !== 'method' && raw && raw !== 'method')
  assert.equal(enc.params.topic, 'a/b')
  assert.equal(raw.params.topic, 'a/b')
  assert.equal(raw.canonicalPath, '/routes/a%2Fb')
  const acl = matchPath('DELETE', '/connections/c1/acl/x/y/#')
  assert.ok(acl && acl !== 'method')
  assert.equal(acl.op.operationId, 'clean_acl_cache')
  assert.deepEqual(acl.params, { clientid: 'c1', topic: 'x/y/#' })
})

test('literal paths win over templates', () => {
  assert.equal(id(matchPath('PUT', '/nodes/n@h/plugins/emqx_retainer/load')), 'load_plugin')
  assert.equal(id(matchPath('GET', '/nodes/n@h/plugin_configs/emqx_retainer')), 'get_plugin_configs')
})

test('unknown path is null, known path with another method is "method"', () => {
  assert.equal(matchPath('GET', '/nope'), null)
  assert.equal(matchPath('PATCH', '/brokers'), 'method')
})

test('bad percent-encoding is a 400, not a crash', () => {
  assert.throws(() => matchPath('GET', '/routes/%E0%A4%A'), (e: { status?: number }) => e.status === 400)
})

test('ACL paths: $all is literal, an IP range may carry a raw or encoded /, a topic trails', () => {
  assert.equal(id(matchPath('GET', '/acl/$all')), 'list_acl_all')
  assert.equal(matchPath('GET', '/acl/all'), null, '$ is not a regular expression anchor')
  const all = matchPath('DELETE', '/acl/$all/topic/a/%23')
  assert.ok(all && all !== 'method')
  assert.deepEqual([all.op.operationId, all.params, all.canonicalPath], ['delete_acl_all', { topic: 'a/#' }, '/acl/$all/topic/a%2F%23'])
  for (const path of ['/acl/ipaddress/10.0.0.0/8/topic/t/+', '/acl/ipaddress/10.0.0.0%2F8/topic/t%2F%2B']) {
    const m = matchPath('DELETE', path)
    assert.ok(m && m !== 'method', path)
    assert.deepEqual([m.op.operationId, m.params], ['delete_acl_ipaddress', { ipaddress: '10.0.0.0/8', topic: 't/+' }], path)
  }
  const one = matchPath('GET', '/acl/ipaddress/2001:db8::/32')
  assert.ok(one && one !== 'method')
  assert.deepEqual([one.op.operationId, one.params.ipaddress], ['lookup_acl_ipaddress', '2001:db8::/32'])
  assert.equal(id(matchPath('GET', '/acl/clientid/c%2F1')), 'lookup_acl_clientid')
})
