// Every operation, called through the generated SDK against a live node, answers what the MQTT
// clients did (the responses are also validated against the spec by the server in tests).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createClient, paginate, toApiError, type Connection } from '../../sdk/dist/index.js'
import { startTestNode } from '../helpers.js'
import { nextMessage } from '../support/mqtt.js'
import { eventually } from '../support/wait.js'

test('a tour of all 69 operations through the SDK', async (t) => {
  const n = await startTestNode(t)
  const sdk = createClient({ baseUrl: n.base, username: 'admin', password: 'public' })
  const node = n.nodeName
  let calls = 0
  const c = <T>(p: Promise<T>): Promise<T> => { calls++; return p }

  const tcp = await n.client({ clientId: 'tour-tcp', username: 'u1', keepalive: 20 })
  await n.client({ clientId: 'tour-ws', ws: true, clean: false })
  await tcp.subscribeAsync('tour/#', { qos: 1 })
  await eventually(async () => (await sdk.subscriptions.listSubscriptions({})).meta.count === 1)

  assert.equal((await c(sdk.api.listApi())).length, 67)
  assert.equal((await c(sdk.brokers.listBrokers()))[0]?.node, node)
  assert.equal((await c(sdk.brokers.getBroker({ node }))).node_status, 'Running')
  assert.equal((await c(sdk.nodes.listNodes()))[0]?.connections, 2)
  assert.equal((await c(sdk.nodes.getNode({ node }))).connections, 2)

  const conns = await c(sdk.connections.listConnections({ _page: 1, _limit: 1 }))
  assert.deepEqual({ ...conns.meta, cursor: undefined }, { count: 2, limit: 1, page: 1, hasnext: true, cursor: undefined })
  assert.equal(typeof conns.meta.cursor, 'string')
  const all: Connection[] = []
  for await (const row of paginate<Connection>(q => sdk.connections.listConnections(q), { limit: 1 })) all.push(row)
  assert.deepEqual(all.map(x => x.client_id), ['tour-tcp', 'tour-ws'])
  assert.equal((await c(sdk.connections.listNodeConnections({ node }))).items.length, 2)
  assert.equal((await c(sdk.connections.lookupConnections({ clientid: 'tour-tcp' })))[0]?.username, 'u1')
  assert.equal((await c(sdk.connections.lookupNodeConnections({ node, clientid: 'tour-tcp' })))[0]?.keepalive, 20)
  assert.equal(await c(sdk.connections.cleanAclCache({ clientid: 'tour-tcp', topic: 'tour/x' })), 'ok')

  assert.equal((await c(sdk.sessions.listSessions({}))).meta.count, 2)
  assert.equal((await c(sdk.sessions.listNodeSessions({ node }))).items[1]?.clean_start, false)
  assert.equal((await c(sdk.sessions.lookupSession({ clientid: 'tour-tcp' })))[0]?.subscriptions_count, 1)
  assert.equal((await c(sdk.sessions.lookupNodeSession({ node, clientid: 'tour-ws' })))[0]?.client_id, 'tour-ws')

  assert.equal((await c(sdk.subscriptions.listSubscriptions({}))).items[0]?.topic, 'tour/#')
  assert.equal((await c(sdk.subscriptions.listNodeSubscriptions({ node }))).meta.count, 1)
  assert.equal((await c(sdk.subscriptions.lookupClientSubscriptions({ clientid: 'tour-tcp' })))[0]?.qos, 1)
  assert.deepEqual(await c(sdk.subscriptions.lookupClientSubscriptionsWithNode({ node, clientid: 'tour-ws' })), [])
  assert.deepEqual((await c(sdk.routes.listRoutes({}))).items, [{ topic: 'tour/#', node }])
  assert.deepEqual(await c(sdk.routes.lookupRoutes({ topic: 'tour/#' })), [{ topic: 'tour/#', node }])

  const msg = nextMessage(tcp)
  // the SDK's PublishResult model carries the optional `matched` as undefined (the wire answer is the seed's {"code": 0})
  assert.deepEqual(await c(sdk.pubsub.mqttPublish({ body: { topic: 'tour/1', payload: 'via sdk', qos: 1 } })), { code: 0, matched: undefined })
  assert.equal((await msg).payload, 'via sdk')
  assert.deepEqual(await c(sdk.pubsub.mqttSubscribe({ body: { topic: 'extra', client_id: 'tour-tcp' } })), { code: 0 })
  assert.deepEqual(await c(sdk.pubsub.mqttUnsubscribe({ body: { topic: 'extra', client_id: 'tour-tcp' } })), { code: 0 })

  const metrics = await c(sdk.metrics.listNodeMetrics({ node }))
  assert.ok(metrics.packets_connect >= 2)
  assert.equal((await c(sdk.metrics.listAllMetrics()))[0]?.node, node)
  assert.equal((await c(sdk.stats.lookupNodeStats({ node }))).connections_count, 2)
  assert.equal((await c(sdk.stats.listStats()))[0]?.node, node)
  assert.ok((await c(sdk.listeners.listNodeListeners({ node }))).some(l => l.protocol === 'mqtt:ws' && l.current_conns === 1))
  assert.equal((await c(sdk.listeners.listListeners()))[0]?.node, node)

  assert.equal((await c(sdk.alarms.listNodeAlarms({ node })))[0]?.id, 'default_admin_password')
  assert.equal((await c(sdk.alarms.listAllAlarms()))[0]?.alarms.length, 1)

  assert.ok((await c(sdk.plugins.listAllPlugins()))[0]?.plugins.some(p => p.name === 'emqx_retainer'))
  assert.equal(await c(sdk.plugins.unloadPlugin({ node, plugin: 'emqx_retainer' })), 'ok')
  assert.equal((await c(sdk.plugins.listNodePlugins({ node }))).find(p => p.name === 'emqx_retainer')?.active, false)
  assert.equal(await c(sdk.plugins.loadPlugin({ node, plugin: 'emqx_retainer' })), 'ok')
  assert.equal(await c(sdk.plugins.updatePluginConfigs({ node, plugin: 'emqx_retainer', body: { 'retainer.max_retained_messages': '100' } })), 'ok')
  assert.equal((await c(sdk.plugins.getPluginConfigs({ node, plugin: 'emqx_retainer' }))).find(x => x.key === 'retainer.max_retained_messages')?.value, '100')

  assert.ok((await c(sdk.configs.getAllConfigs()))[0]?.config.length)
  assert.equal(await c(sdk.configs.updateConfig({ app: 'emqx', body: { key: 'mqtt.max_topic_levels', value: '8' } })), 'ok')
  assert.equal(await c(sdk.configs.updateNodeConfig({ node, app: 'emqx', body: { key: 'mqtt.max_topic_levels', value: '0' } })), 'ok')
  assert.equal((await c(sdk.configs.getNodeConfigs({ node }))).find(x => x.key === 'mqtt.max_topic_levels')?.value, '0')

  const ban = await c(sdk.banned.createBanned({ body: { who: 'tour-ws', as: 'client_id', reason: 'tour' } }))
  assert.equal(ban.who, 'tour-ws')
  assert.equal((await c(sdk.banned.listBanned({}))).meta.count, 1)
  assert.equal(await c(sdk.banned.deleteBanned({ who: 'tour-ws', as: 'client_id' })), 'ok')

  const one = await c(sdk.acl.addAcl({ body: { clientid: 'tour-tcp', topic: 'tour/%c', action: 'pub', access: 'allow' } }))
  assert.deepEqual(Array.isArray(one) ? [] : [one.clientid, one.topic, one.result], ['tour-tcp', 'tour/%c', 'ok'])
  // the same operation with an array (not counted again)
  const batch = await sdk.acl.addAcl({
    body: [
      { username: 'u1', topic: 'tour/u', action: 'sub', access: 'deny' },
      { ipaddress: '10.0.0.0/8', topic: 'tour/ip', action: 'pubsub', access: 'deny' },
      { topic: 'tour/all', action: 'pubsub', access: 'deny' }
    ]
  })
  assert.equal(Array.isArray(batch) ? batch.length : 0, 3)
  assert.equal((await c(sdk.acl.listAclClientid({}))).meta.count, 1)
  assert.equal((await c(sdk.acl.listAclUsername({ _limit: 1 }))).items[0]?.username, 'u1')
  assert.equal((await c(sdk.acl.listAclIpaddress({}))).items[0]?.ipaddress, '10.0.0.0/8')
  assert.equal((await c(sdk.acl.listAclAll({}))).items[0]?.all, '$all')
  assert.equal((await c(sdk.acl.lookupAclClientid({ clientid: 'tour-tcp' })))[0]?.topic, 'tour/%c')
  assert.equal((await c(sdk.acl.lookupAclUsername({ username: 'u1' })))[0]?.action, 'sub')
  assert.equal((await c(sdk.acl.lookupAclIpaddress({ ipaddress: '10.0.0.0/8' })))[0]?.access, 'deny')
  assert.equal(await c(sdk.acl.deleteAclClientid({ clientid: 'tour-tcp', topic: 'tour/%c' })), 'ok')
  assert.equal(await c(sdk.acl.deleteAclUsername({ username: 'u1', topic: 'tour/u' })), 'ok')
  assert.equal(await c(sdk.acl.deleteAclIpaddress({ ipaddress: '10.0.0.0/8', topic: 'tour/ip' })), 'ok')
  assert.equal(await c(sdk.acl.deleteAclAll({ topic: 'tour/all' })), 'ok')

  const app = await c(sdk.apps.addApp({ body: { app_id: 'tour-app' } }))
  assert.ok(app.secret)
  assert.equal((await c(sdk.apps.listApps())).length, 1)
  assert.equal(await c(sdk.apps.updateApp({ appid: 'tour-app', body: { desc: 'toured' } })), 'ok')
  assert.equal((await c(sdk.apps.lookupApp({ appid: 'tour-app' }))).desc, 'toured')
  assert.equal(await c(sdk.apps.delApp({ appid: 'tour-app' })), 'ok')

  assert.equal(await c(sdk.users.createUser({ body: { username: 'guide', password: 'pw', role: 'viewer' } })), 'ok')
  assert.equal((await c(sdk.users.listUsers())).length, 2)
  assert.equal(await c(sdk.users.updateUser({ name: 'guide', body: { tags: 'viewer' } })), 'ok')
  assert.equal(await c(sdk.users.authUser({ body: { username: 'guide', password: 'pw' } })), 'ok')
  assert.equal(await c(sdk.users.changePwd({ username: 'guide', body: { old_pwd: 'pw', new_pwd: 'pw2' } })), 'ok')
  assert.equal(await c(sdk.users.deleteUser({ name: 'guide' })), 'ok')
  const trail = await eventually(async () => {
    const page = await sdk.audit.listAudit({ operation: 'delete_user', actor: 'admin' })
    return page.meta.count === 1 ? page : null
  })
  assert.deepEqual(trail.items[0]?.path_params, { name: 'guide' })
  assert.equal((await c(sdk.audit.listAudit({ operation: 'create_user' }))).items[0]?.body.password, '******')

  const closed = new Promise<void>(resolve => tcp.once('close', () => resolve()))
  assert.equal(await c(sdk.connections.kickoutConnection({ clientid: 'tour-tcp' })), 'ok')
  await closed

  assert.equal(calls, 69)
})

test('SDK errors are typed: a 404 gives status and the error body', async (t) => {
  const n = await startTestNode(t)
  const sdk = createClient({ baseUrl: n.base, username: 'admin', password: 'public' })
  const err = await sdk.apps.lookupApp({ appid: 'missing' }).then(() => null, (e: unknown) => e)
  assert.deepEqual(await toApiError(err), { status: 404, body: { message: 'app_not_found', code: 102 } })
  const bad = createClient({ baseUrl: n.base, username: 'admin', password: 'wrong' })
  const unauth = await bad.brokers.listBrokers().then(() => null, (e: unknown) => e)
  assert.equal((await toApiError(unauth))?.status, 401)
})
