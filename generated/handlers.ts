// DO NOT EDIT: generated from openapi/v3.yaml by scripts/generate-server.mjs (npm run generate)

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { operations } from './v3.js'
import type { OperationId } from './operations.js'

/** The JSON body of an operation's 200 answer; a RawReply for one that answers another media type. */
export type Reply<K extends OperationId> = operations[K]['responses'][200]['content'] extends { 'application/json': infer T } ? T : RawReply

/** An answer that is not JSON (a text format, a stream): the handler writes it itself. */
export interface RawReply {
  readonly raw: (req: IncomingMessage, res: ServerResponse) => void
}

/** One typed method per operation of openapi/v3.yaml. */
export interface Handlers<Ctx> {
  /** POST /acl: Add ACL rules */
  add_acl: (input: { path: Record<string, never>, query: Record<string, never>, body: operations["add_acl"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"add_acl">>
  /** POST /apps: Add Application */
  add_app: (input: { path: Record<string, never>, query: Record<string, never>, body: operations["add_app"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"add_app">>
  /** POST /auth: Authenticate an user */
  auth_user: (input: { path: Record<string, never>, query: Record<string, never>, body: operations["auth_user"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"auth_user">>
  /** PUT /change_pwd/{username}: Change password for an user */
  change_pwd: (input: { path: operations["change_pwd"]['parameters']['path'], query: Record<string, never>, body: operations["change_pwd"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"change_pwd">>
  /** DELETE /connections/{clientid}/acl/{topic}: Clean ACL cache of a connection */
  clean_acl_cache: (input: { path: operations["clean_acl_cache"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"clean_acl_cache">>
  /** DELETE /alarms/deactivated: Clear the history of deactivated alarms */
  clear_deactivated_alarms: (input: { path: Record<string, never>, query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"clear_deactivated_alarms">>
  /** DELETE /mqtt/retainer/messages: Remove the retained messages under a topic filter */
  clear_retained_messages: (input: { path: Record<string, never>, query: NonNullable<operations["clear_retained_messages"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"clear_retained_messages">>
  /** POST /banned: Create banned */
  create_banned: (input: { path: Record<string, never>, query: Record<string, never>, body: operations["create_banned"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"create_banned">>
  /** POST /users: Create an user */
  create_user: (input: { path: Record<string, never>, query: Record<string, never>, body: operations["create_user"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"create_user">>
  /** POST /alarms/deactivated: Deactivate an alarm by name */
  deactivate_alarm: (input: { path: Record<string, never>, query: Record<string, never>, body: operations["deactivate_alarm"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"deactivate_alarm">>
  /** DELETE /apps/{appid}: Delete Application */
  del_app: (input: { path: operations["del_app"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"del_app">>
  /** DELETE /acl/$all/topic/{topic}: Delete the ACL rules for all clients on a topic */
  delete_acl_all: (input: { path: operations["delete_acl_all"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"delete_acl_all">>
  /** DELETE /acl/clientid/{clientid}/topic/{topic}: Delete the ACL rules of a client id on a topic */
  delete_acl_clientid: (input: { path: operations["delete_acl_clientid"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"delete_acl_clientid">>
  /** DELETE /acl/ipaddress/{ipaddress}/topic/{topic}: Delete the ACL rules of an IP range on a topic */
  delete_acl_ipaddress: (input: { path: operations["delete_acl_ipaddress"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"delete_acl_ipaddress">>
  /** DELETE /acl/username/{username}/topic/{topic}: Delete the ACL rules of a user name on a topic */
  delete_acl_username: (input: { path: operations["delete_acl_username"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"delete_acl_username">>
  /** DELETE /banned/{who}: Delete banned */
  delete_banned: (input: { path: operations["delete_banned"]['parameters']['path'], query: NonNullable<operations["delete_banned"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"delete_banned">>
  /** DELETE /mqtt/retainer/message/{topic}: Remove the retained message of a topic */
  delete_retained_message: (input: { path: operations["delete_retained_message"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"delete_retained_message">>
  /** DELETE /users/{name}: Delete an user */
  delete_user: (input: { path: operations["delete_user"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"delete_user">>
  /** DELETE /sessions/{clientid}: Discard a session */
  discard_session: (input: { path: operations["discard_session"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"discard_session">>
  /** GET /events: Live events of the cluster (Server-Sent Events) */
  events: (input: { path: Record<string, never>, query: NonNullable<operations["events"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"events">>
  /** GET /data/export: Export the configuration and data */
  export_data: (input: { path: Record<string, never>, query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"export_data">>
  /** GET /configs: Get all configs */
  get_all_configs: (input: { path: Record<string, never>, query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"get_all_configs">>
  /** GET /brokers/{node}: Get broker info of a node */
  get_broker: (input: { path: operations["get_broker"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"get_broker">>
  /** GET /nodes/{node}: Lookup a node in the cluster */
  get_node: (input: { path: operations["get_node"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"get_node">>
  /** GET /nodes/{node}/configs: Get all configs of a node */
  get_node_configs: (input: { path: operations["get_node_configs"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"get_node_configs">>
  /** GET /nodes/{node}/plugin_configs/{plugin}: Get configurations of a plugin on the node */
  get_plugin_configs: (input: { path: operations["get_plugin_configs"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"get_plugin_configs">>
  /** POST /data/import: Import a configuration and data export */
  import_data: (input: { path: Record<string, never>, query: NonNullable<operations["import_data"]['parameters']['query']>, body: operations["import_data"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"import_data">>
  /** DELETE /connections/{clientid}: Kick out a connection */
  kickout_connection: (input: { path: operations["kickout_connection"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"kickout_connection">>
  /** POST /connections/kickout/bulk: Kick out many connections */
  kickout_connections_bulk: (input: { path: Record<string, never>, query: NonNullable<operations["kickout_connections_bulk"]['parameters']['query']>, body: NonNullable<operations["kickout_connections_bulk"]['requestBody']>['content']['application/json'] | undefined }, ctx: Ctx) => Promise<Reply<"kickout_connections_bulk">>
  /** GET /acl/$all: List the ACL rules for all clients */
  list_acl_all: (input: { path: Record<string, never>, query: NonNullable<operations["list_acl_all"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_acl_all">>
  /** GET /acl/clientid: List the ACL rules of client ids */
  list_acl_clientid: (input: { path: Record<string, never>, query: NonNullable<operations["list_acl_clientid"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_acl_clientid">>
  /** GET /acl/ipaddress: List the ACL rules of IP ranges */
  list_acl_ipaddress: (input: { path: Record<string, never>, query: NonNullable<operations["list_acl_ipaddress"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_acl_ipaddress">>
  /** GET /acl/username: List the ACL rules of user names */
  list_acl_username: (input: { path: Record<string, never>, query: NonNullable<operations["list_acl_username"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_acl_username">>
  /** GET /alarms/activated: List activated alarms with their activation times */
  list_activated_alarms: (input: { path: Record<string, never>, query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_activated_alarms">>
  /** GET /alarms: List all alarms */
  list_all_alarms: (input: { path: Record<string, never>, query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_all_alarms">>
  /** GET /metrics: A list of metrics of all nodes in the cluster */
  list_all_metrics: (input: { path: Record<string, never>, query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_all_metrics">>
  /** GET /plugins: List all plugins in the cluster */
  list_all_plugins: (input: { path: Record<string, never>, query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_all_plugins">>
  /** GET /: List all API describe */
  list_api: (input: { path: Record<string, never>, query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_api">>
  /** GET /apps: List Applications */
  list_apps: (input: { path: Record<string, never>, query: NonNullable<operations["list_apps"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_apps">>
  /** GET /audit: List audit log entries */
  list_audit: (input: { path: Record<string, never>, query: NonNullable<operations["list_audit"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_audit">>
  /** GET /banned: List banned */
  list_banned: (input: { path: Record<string, never>, query: NonNullable<operations["list_banned"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_banned">>
  /** GET /brokers: A list of brokers in the cluster */
  list_brokers: (input: { path: Record<string, never>, query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_brokers">>
  /** GET /connections: A list of connections in the cluster */
  list_connections: (input: { path: Record<string, never>, query: NonNullable<operations["list_connections"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_connections">>
  /** GET /alarms/deactivated: List deactivated alarms (the history) */
  list_deactivated_alarms: (input: { path: Record<string, never>, query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_deactivated_alarms">>
  /** GET /listeners: A list of listeners in the cluster */
  list_listeners: (input: { path: Record<string, never>, query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_listeners">>
  /** GET /alarms/{node}: List alarms of a node */
  list_node_alarms: (input: { path: operations["list_node_alarms"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_node_alarms">>
  /** GET /nodes/{node}/connections: A list of connections on a node */
  list_node_connections: (input: { path: operations["list_node_connections"]['parameters']['path'], query: NonNullable<operations["list_node_connections"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_node_connections">>
  /** GET /nodes/{node}/listeners: A list of listeners on the node */
  list_node_listeners: (input: { path: operations["list_node_listeners"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_node_listeners">>
  /** GET /nodes/{node}/metrics: A list of metrics of a node */
  list_node_metrics: (input: { path: operations["list_node_metrics"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_node_metrics">>
  /** GET /nodes/{node}/plugins: List all plugins on a node */
  list_node_plugins: (input: { path: operations["list_node_plugins"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_node_plugins">>
  /** GET /nodes/{node}/sessions: A list of sessions on a node */
  list_node_sessions: (input: { path: operations["list_node_sessions"]['parameters']['path'], query: NonNullable<operations["list_node_sessions"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_node_sessions">>
  /** GET /nodes/{node}/subscriptions: A list of subscriptions on a node */
  list_node_subscriptions: (input: { path: operations["list_node_subscriptions"]['parameters']['path'], query: NonNullable<operations["list_node_subscriptions"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_node_subscriptions">>
  /** GET /nodes: A list of nodes in the cluster */
  list_nodes: (input: { path: Record<string, never>, query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_nodes">>
  /** GET /mqtt/retainer/messages: List retained messages */
  list_retained_messages: (input: { path: Record<string, never>, query: NonNullable<operations["list_retained_messages"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_retained_messages">>
  /** GET /routes: List routes */
  list_routes: (input: { path: Record<string, never>, query: NonNullable<operations["list_routes"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_routes">>
  /** GET /sessions/{clientid}/inflight_messages: The messages in flight to a session's client */
  list_session_inflight_messages: (input: { path: operations["list_session_inflight_messages"]['parameters']['path'], query: NonNullable<operations["list_session_inflight_messages"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_session_inflight_messages">>
  /** GET /sessions/{clientid}/mqueue_messages: The messages queued for a session */
  list_session_mqueue_messages: (input: { path: operations["list_session_mqueue_messages"]['parameters']['path'], query: NonNullable<operations["list_session_mqueue_messages"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_session_mqueue_messages">>
  /** GET /sessions: A list of sessions in the cluster */
  list_sessions: (input: { path: Record<string, never>, query: NonNullable<operations["list_sessions"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_sessions">>
  /** GET /stats: A list of stats of all nodes in the cluster */
  list_stats: (input: { path: Record<string, never>, query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_stats">>
  /** GET /subscriptions: A list of subscriptions in the cluster */
  list_subscriptions: (input: { path: Record<string, never>, query: NonNullable<operations["list_subscriptions"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_subscriptions">>
  /** GET /users: List users */
  list_users: (input: { path: Record<string, never>, query: NonNullable<operations["list_users"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"list_users">>
  /** PUT /nodes/{node}/plugins/{plugin}/load: Load a plugin */
  load_plugin: (input: { path: operations["load_plugin"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"load_plugin">>
  /** GET /acl/clientid/{clientid}: Lookup the ACL rules of a client id */
  lookup_acl_clientid: (input: { path: operations["lookup_acl_clientid"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"lookup_acl_clientid">>
  /** GET /acl/ipaddress/{ipaddress}: Lookup the ACL rules of an IP range */
  lookup_acl_ipaddress: (input: { path: operations["lookup_acl_ipaddress"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"lookup_acl_ipaddress">>
  /** GET /acl/username/{username}: Lookup the ACL rules of a user name */
  lookup_acl_username: (input: { path: operations["lookup_acl_username"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"lookup_acl_username">>
  /** GET /apps/{appid}: Lookup Application */
  lookup_app: (input: { path: operations["lookup_app"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"lookup_app">>
  /** GET /subscriptions/{clientid}: A list of subscriptions of a client */
  lookup_client_subscriptions: (input: { path: operations["lookup_client_subscriptions"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"lookup_client_subscriptions">>
  /** GET /nodes/{node}/subscriptions/{clientid}: A list of subscriptions of a client on the node */
  lookup_client_subscriptions_with_node: (input: { path: operations["lookup_client_subscriptions_with_node"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"lookup_client_subscriptions_with_node">>
  /** GET /connections/{clientid}: Lookup a connection in the cluster */
  lookup_connections: (input: { path: operations["lookup_connections"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"lookup_connections">>
  /** GET /nodes/{node}/connections/{clientid}: Lookup a connection on node */
  lookup_node_connections: (input: { path: operations["lookup_node_connections"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"lookup_node_connections">>
  /** GET /nodes/{node}/sessions/{clientid}: Lookup a session on the node */
  lookup_node_session: (input: { path: operations["lookup_node_session"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"lookup_node_session">>
  /** GET /nodes/{node}/stats: A list of stats of a node */
  lookup_node_stats: (input: { path: operations["lookup_node_stats"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"lookup_node_stats">>
  /** GET /mqtt/retainer/message/{topic}: Get the retained message of a topic */
  lookup_retained_message: (input: { path: operations["lookup_retained_message"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"lookup_retained_message">>
  /** GET /routes/{topic}: Lookup routes to a topic */
  lookup_routes: (input: { path: operations["lookup_routes"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"lookup_routes">>
  /** GET /sessions/{clientid}: Lookup a session in the cluster */
  lookup_session: (input: { path: operations["lookup_session"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"lookup_session">>
  /** POST /mqtt/publish: Publish a MQTT message */
  mqtt_publish: (input: { path: Record<string, never>, query: NonNullable<operations["mqtt_publish"]['parameters']['query']>, body: operations["mqtt_publish"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"mqtt_publish">>
  /** POST /mqtt/publish_batch: Publish many MQTT messages */
  mqtt_publish_batch: (input: { path: Record<string, never>, query: Record<string, never>, body: operations["mqtt_publish_batch"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"mqtt_publish_batch">>
  /** POST /mqtt/subscribe: Subscribe a topic */
  mqtt_subscribe: (input: { path: Record<string, never>, query: NonNullable<operations["mqtt_subscribe"]['parameters']['query']>, body: operations["mqtt_subscribe"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"mqtt_subscribe">>
  /** POST /mqtt/subscribe_batch: Subscribe many clients or topics */
  mqtt_subscribe_batch: (input: { path: Record<string, never>, query: NonNullable<operations["mqtt_subscribe_batch"]['parameters']['query']>, body: operations["mqtt_subscribe_batch"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"mqtt_subscribe_batch">>
  /** POST /mqtt/unsubscribe: Unsubscribe a topic */
  mqtt_unsubscribe: (input: { path: Record<string, never>, query: NonNullable<operations["mqtt_unsubscribe"]['parameters']['query']>, body: operations["mqtt_unsubscribe"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"mqtt_unsubscribe">>
  /** POST /mqtt/unsubscribe_batch: Unsubscribe many clients or topics */
  mqtt_unsubscribe_batch: (input: { path: Record<string, never>, query: NonNullable<operations["mqtt_unsubscribe_batch"]['parameters']['query']>, body: operations["mqtt_unsubscribe_batch"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"mqtt_unsubscribe_batch">>
  /** GET /prometheus/stats: Metrics in the Prometheus text format */
  prometheus_stats: (input: { path: Record<string, never>, query: NonNullable<operations["prometheus_stats"]['parameters']['query']>, body: undefined }, ctx: Ctx) => Promise<Reply<"prometheus_stats">>
  /** PUT /nodes/{node}/plugins/{plugin}/unload: Unload a plugin */
  unload_plugin: (input: { path: operations["unload_plugin"]['parameters']['path'], query: Record<string, never>, body: undefined }, ctx: Ctx) => Promise<Reply<"unload_plugin">>
  /** PUT /apps/{appid}: Update Application */
  update_app: (input: { path: operations["update_app"]['parameters']['path'], query: Record<string, never>, body: operations["update_app"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"update_app">>
  /** PUT /configs/{app}: Update config of an application in the cluster */
  update_config: (input: { path: operations["update_config"]['parameters']['path'], query: Record<string, never>, body: operations["update_config"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"update_config">>
  /** PUT /nodes/{node}/configs/{app}: Update config of an application on a node */
  update_node_config: (input: { path: operations["update_node_config"]['parameters']['path'], query: Record<string, never>, body: operations["update_node_config"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"update_node_config">>
  /** PUT /nodes/{node}/plugin_configs/{plugin}: Update configurations of a plugin on the node */
  update_plugin_configs: (input: { path: operations["update_plugin_configs"]['parameters']['path'], query: Record<string, never>, body: operations["update_plugin_configs"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"update_plugin_configs">>
  /** PUT /users/{name}: Update an user */
  update_user: (input: { path: operations["update_user"]['parameters']['path'], query: Record<string, never>, body: operations["update_user"]['requestBody']['content']['application/json'] }, ctx: Ctx) => Promise<Reply<"update_user">>
}

export type Input<K extends OperationId> = Parameters<Handlers<unknown>[K]>[0]
