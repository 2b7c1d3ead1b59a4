// DO NOT EDIT: generated from openapi/v3.yaml by scripts/generate-server.mjs (npm run generate)

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH'

/** EMQX v5's API roles, lowest first; 'none': the operation needs no credentials */
export type Role = 'viewer' | 'publisher' | 'administrator'

export type OperationId =
  | "add_acl"
  | "add_app"
  | "auth_user"
  | "change_pwd"
  | "clean_acl_cache"
  | "clear_deactivated_alarms"
  | "clear_retained_messages"
  | "create_banned"
  | "create_user"
  | "deactivate_alarm"
  | "del_app"
  | "delete_acl_all"
  | "delete_acl_clientid"
  | "delete_acl_ipaddress"
  | "delete_acl_username"
  | "delete_banned"
  | "delete_retained_message"
  | "delete_user"
  | "discard_session"
  | "events"
  | "export_data"
  | "get_all_configs"
  | "get_broker"
  | "get_node"
  | "get_node_configs"
  | "get_plugin_configs"
  | "import_data"
  | "kickout_connection"
  | "kickout_connections_bulk"
  | "list_acl_all"
  | "list_acl_clientid"
  | "list_acl_ipaddress"
  | "list_acl_username"
  | "list_activated_alarms"
  | "list_all_alarms"
  | "list_all_metrics"
  | "list_all_plugins"
  | "list_api"
  | "list_apps"
  | "list_audit"
  | "list_banned"
  | "list_brokers"
  | "list_connections"
  | "list_deactivated_alarms"
  | "list_listeners"
  | "list_node_alarms"
  | "list_node_connections"
  | "list_node_listeners"
  | "list_node_metrics"
  | "list_node_plugins"
  | "list_node_sessions"
  | "list_node_subscriptions"
  | "list_nodes"
  | "list_retained_messages"
  | "list_routes"
  | "list_session_inflight_messages"
  | "list_session_mqueue_messages"
  | "list_sessions"
  | "list_stats"
  | "list_subscriptions"
  | "list_users"
  | "load_plugin"
  | "lookup_acl_clientid"
  | "lookup_acl_ipaddress"
  | "lookup_acl_username"
  | "lookup_app"
  | "lookup_client_subscriptions"
  | "lookup_client_subscriptions_with_node"
  | "lookup_connections"
  | "lookup_node_connections"
  | "lookup_node_session"
  | "lookup_node_stats"
  | "lookup_retained_message"
  | "lookup_routes"
  | "lookup_session"
  | "mqtt_publish"
  | "mqtt_publish_batch"
  | "mqtt_subscribe"
  | "mqtt_subscribe_batch"
  | "mqtt_unsubscribe"
  | "mqtt_unsubscribe_batch"
  | "prometheus_stats"
  | "unload_plugin"
  | "update_app"
  | "update_config"
  | "update_node_config"
  | "update_plugin_configs"
  | "update_user"

export interface OperationEntry {
  readonly operationId: OperationId
  readonly method: HttpMethod
  /** OpenAPI path, relative to the server URL /api/v3 */
  readonly path: string
  readonly expressPath: string
  /** name in EMQ X's GET /api/v3/ listing */
  readonly emqxName: string
  /** path as EMQ X's listing shows it */
  readonly emqxPath: string
  readonly descr: string
  /** listed by GET /api/v3/ */
  readonly indexed: boolean
  /** needs HTTP Basic credentials */
  readonly secured: boolean
  /** x-required-role: the lowest role that may call it */
  readonly requiredRole: Role | 'none'
  /** the request body has a `role` field (a user's or app's role: never above the caller's) */
  readonly roleInBody: boolean
  /** the role the body asks for when it has no `role` (the schema's default), else null */
  readonly defaultBodyRole: Role | null
  readonly paginated: boolean
  readonly pathParams: readonly string[]
  readonly queryParams: readonly string[]
  readonly hasBody: boolean
  /** the body may be left out (requestBody.required false): an empty request then has none */
  readonly bodyOptional: boolean
}

export const operations: readonly OperationEntry[] = [
  { operationId: "add_acl", method: "POST", path: "/acl", expressPath: "/acl", emqxName: "add", emqxPath: "/acl", descr: "Add ACL rules", indexed: true, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: true, bodyOptional: false },
  { operationId: "add_app", method: "POST", path: "/apps", expressPath: "/apps", emqxName: "add_app", emqxPath: "/apps/", descr: "Add Application", indexed: true, secured: true, requiredRole: "administrator", roleInBody: true, defaultBodyRole: "administrator", paginated: false, pathParams: [], queryParams: [], hasBody: true, bodyOptional: false },
  { operationId: "auth_user", method: "POST", path: "/auth", expressPath: "/auth", emqxName: "auth_user", emqxPath: "/auth", descr: "Authenticate an user", indexed: true, secured: false, requiredRole: "none", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: true, bodyOptional: false },
  { operationId: "change_pwd", method: "PUT", path: "/change_pwd/{username}", expressPath: "/change_pwd/:username", emqxName: "change_pwd", emqxPath: "/change_pwd/:username", descr: "Change password for an user", indexed: true, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["username"], queryParams: [], hasBody: true, bodyOptional: false },
  { operationId: "clean_acl_cache", method: "DELETE", path: "/connections/{clientid}/acl/{topic}", expressPath: "/connections/:clientid/acl/:topic", emqxName: "clean_acl_cache", emqxPath: "/connections/:clientid/acl/:topic", descr: "Clean ACL cache of a connection", indexed: true, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["clientid","topic"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "clear_deactivated_alarms", method: "DELETE", path: "/alarms/deactivated", expressPath: "/alarms/deactivated", emqxName: "clear_deactivated_alarms", emqxPath: "/alarms/deactivated", descr: "Clear the history of deactivated alarms", indexed: false, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "clear_retained_messages", method: "DELETE", path: "/mqtt/retainer/messages", expressPath: "/mqtt/retainer/messages", emqxName: "clear_retained_messages", emqxPath: "/mqtt/retainer/messages", descr: "Remove the retained messages under a topic filter", indexed: false, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: ["_match_topic"], hasBody: false, bodyOptional: false },
  { operationId: "create_banned", method: "POST", path: "/banned", expressPath: "/banned", emqxName: "create_banned", emqxPath: "/banned/", descr: "Create banned", indexed: true, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: true, bodyOptional: false },
  { operationId: "create_user", method: "POST", path: "/users", expressPath: "/users", emqxName: "create_user", emqxPath: "/users/", descr: "Create an user", indexed: true, secured: true, requiredRole: "administrator", roleInBody: true, defaultBodyRole: "administrator", paginated: false, pathParams: [], queryParams: [], hasBody: true, bodyOptional: false },
  { operationId: "deactivate_alarm", method: "POST", path: "/alarms/deactivated", expressPath: "/alarms/deactivated", emqxName: "deactivate_alarm", emqxPath: "/alarms/deactivated", descr: "Deactivate an alarm by name", indexed: false, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: true, bodyOptional: false },
  { operationId: "del_app", method: "DELETE", path: "/apps/{appid}", expressPath: "/apps/:appid", emqxName: "del_app", emqxPath: "/apps/:appid", descr: "Delete Application", indexed: true, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["appid"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "delete_acl_all", method: "DELETE", path: "/acl/$all/topic/{topic}", expressPath: "/acl/$all/topic/:topic", emqxName: "delete_all", emqxPath: "/acl/$all/topic/:topic", descr: "Delete the ACL rules for all clients on a topic", indexed: true, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["topic"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "delete_acl_clientid", method: "DELETE", path: "/acl/clientid/{clientid}/topic/{topic}", expressPath: "/acl/clientid/:clientid/topic/:topic", emqxName: "delete_clientid", emqxPath: "/acl/clientid/:clientid/topic/:topic", descr: "Delete the ACL rules of a client id on a topic", indexed: true, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["clientid","topic"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "delete_acl_ipaddress", method: "DELETE", path: "/acl/ipaddress/{ipaddress}/topic/{topic}", expressPath: "/acl/ipaddress/:ipaddress/topic/:topic", emqxName: "delete_ipaddress", emqxPath: "/acl/ipaddress/:ipaddress/topic/:topic", descr: "Delete the ACL rules of an IP range on a topic", indexed: true, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["ipaddress","topic"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "delete_acl_username", method: "DELETE", path: "/acl/username/{username}/topic/{topic}", expressPath: "/acl/username/:username/topic/:topic", emqxName: "delete_username", emqxPath: "/acl/username/:username/topic/:topic", descr: "Delete the ACL rules of a user name on a topic", indexed: true, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["username","topic"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "delete_banned", method: "DELETE", path: "/banned/{who}", expressPath: "/banned/:who", emqxName: "delete_banned", emqxPath: "/banned/:who", descr: "Delete banned", indexed: true, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["who"], queryParams: ["as"], hasBody: false, bodyOptional: false },
  { operationId: "delete_retained_message", method: "DELETE", path: "/mqtt/retainer/message/{topic}", expressPath: "/mqtt/retainer/message/:topic", emqxName: "delete_retained_message", emqxPath: "/mqtt/retainer/message/:topic", descr: "Remove the retained message of a topic", indexed: false, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["topic"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "delete_user", method: "DELETE", path: "/users/{name}", expressPath: "/users/:name", emqxName: "delete_user", emqxPath: "/users/:name", descr: "Delete an user", indexed: true, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["name"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "discard_session", method: "DELETE", path: "/sessions/{clientid}", expressPath: "/sessions/:clientid", emqxName: "discard_session", emqxPath: "/sessions/:clientid", descr: "Discard a session", indexed: false, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["clientid"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "events", method: "GET", path: "/events", expressPath: "/events", emqxName: "events", emqxPath: "/events", descr: "Live events of the cluster (Server-Sent Events)", indexed: false, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: ["type","clientid","username"], hasBody: false, bodyOptional: false },
  { operationId: "export_data", method: "GET", path: "/data/export", expressPath: "/data/export", emqxName: "export_data", emqxPath: "/data/export", descr: "Export the configuration and data", indexed: false, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "get_all_configs", method: "GET", path: "/configs", expressPath: "/configs", emqxName: "get_all_configs", emqxPath: "/configs/", descr: "Get all configs", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "get_broker", method: "GET", path: "/brokers/{node}", expressPath: "/brokers/:node", emqxName: "get_broker", emqxPath: "/brokers/:node", descr: "Get broker info of a node", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["node"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "get_node", method: "GET", path: "/nodes/{node}", expressPath: "/nodes/:node", emqxName: "get_node", emqxPath: "/nodes/:node", descr: "Lookup a node in the cluster", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["node"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "get_node_configs", method: "GET", path: "/nodes/{node}/configs", expressPath: "/nodes/:node/configs", emqxName: "get_all_configs", emqxPath: "/nodes/:node/configs/", descr: "Get all configs of a node", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["node"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "get_plugin_configs", method: "GET", path: "/nodes/{node}/plugin_configs/{plugin}", expressPath: "/nodes/:node/plugin_configs/:plugin", emqxName: "get_plugin_configs", emqxPath: "/nodes/:node/plugin_configs/:plugin", descr: "Get configurations of a plugin on the node", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["node","plugin"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "import_data", method: "POST", path: "/data/import", expressPath: "/data/import", emqxName: "import_data", emqxPath: "/data/import", descr: "Import a configuration and data export", indexed: false, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: ["dry_run"], hasBody: true, bodyOptional: false },
  { operationId: "kickout_connection", method: "DELETE", path: "/connections/{clientid}", expressPath: "/connections/:clientid", emqxName: "kickout_connection", emqxPath: "/connections/:clientid", descr: "Kick out a connection", indexed: true, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["clientid"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "kickout_connections_bulk", method: "POST", path: "/connections/kickout/bulk", expressPath: "/connections/kickout/bulk", emqxName: "kickout_connections_bulk", emqxPath: "/connections/kickout/bulk", descr: "Kick out many connections", indexed: false, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: ["dry_run","clientid","username","ip_address","proto_ver","clean_start","_like_clientid","_like_username","_gte_connected_at","_lte_connected_at"], hasBody: true, bodyOptional: true },
  { operationId: "list_acl_all", method: "GET", path: "/acl/$all", expressPath: "/acl/$all", emqxName: "list_all", emqxPath: "/acl/$all", descr: "List the ACL rules for all clients", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: true, pathParams: [], queryParams: ["_page","_limit"], hasBody: false, bodyOptional: false },
  { operationId: "list_acl_clientid", method: "GET", path: "/acl/clientid", expressPath: "/acl/clientid", emqxName: "list_clientid", emqxPath: "/acl/clientid", descr: "List the ACL rules of client ids", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: true, pathParams: [], queryParams: ["_page","_limit"], hasBody: false, bodyOptional: false },
  { operationId: "list_acl_ipaddress", method: "GET", path: "/acl/ipaddress", expressPath: "/acl/ipaddress", emqxName: "list_ipaddress", emqxPath: "/acl/ipaddress", descr: "List the ACL rules of IP ranges", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: true, pathParams: [], queryParams: ["_page","_limit"], hasBody: false, bodyOptional: false },
  { operationId: "list_acl_username", method: "GET", path: "/acl/username", expressPath: "/acl/username", emqxName: "list_username", emqxPath: "/acl/username", descr: "List the ACL rules of user names", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: true, pathParams: [], queryParams: ["_page","_limit"], hasBody: false, bodyOptional: false },
  { operationId: "list_activated_alarms", method: "GET", path: "/alarms/activated", expressPath: "/alarms/activated", emqxName: "list_activated_alarms", emqxPath: "/alarms/activated", descr: "List activated alarms with their activation times", indexed: false, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "list_all_alarms", method: "GET", path: "/alarms", expressPath: "/alarms", emqxName: "list_all_alarms", emqxPath: "/alarms/", descr: "List all alarms", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "list_all_metrics", method: "GET", path: "/metrics", expressPath: "/metrics", emqxName: "list_all_metrics", emqxPath: "/metrics/", descr: "A list of metrics of all nodes in the cluster", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "list_all_plugins", method: "GET", path: "/plugins", expressPath: "/plugins", emqxName: "list_all_plugins", emqxPath: "/plugins/", descr: "List all plugins in the cluster", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "list_api", method: "GET", path: "/", expressPath: "/", emqxName: "list_api", emqxPath: "/", descr: "List all API describe", indexed: false, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "list_apps", method: "GET", path: "/apps", expressPath: "/apps", emqxName: "list_apps", emqxPath: "/apps/", descr: "List Applications", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: ["_like_name","_sort"], hasBody: false, bodyOptional: false },
  { operationId: "list_audit", method: "GET", path: "/audit", expressPath: "/audit", emqxName: "list_audit", emqxPath: "/audit", descr: "List audit log entries", indexed: false, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: true, pathParams: [], queryParams: ["_page","_limit","actor","operation","status","_gte_time","_lte_time"], hasBody: false, bodyOptional: false },
  { operationId: "list_banned", method: "GET", path: "/banned", expressPath: "/banned", emqxName: "list_banned", emqxPath: "/banned/", descr: "List banned", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: true, pathParams: [], queryParams: ["_page","_limit","as","_like_who","_sort","_cursor","fields"], hasBody: false, bodyOptional: false },
  { operationId: "list_brokers", method: "GET", path: "/brokers", expressPath: "/brokers", emqxName: "list_brokers", emqxPath: "/brokers/", descr: "A list of brokers in the cluster", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "list_connections", method: "GET", path: "/connections", expressPath: "/connections", emqxName: "list_connections", emqxPath: "/connections/", descr: "A list of connections in the cluster", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: true, pathParams: [], queryParams: ["_page","_limit","clientid","username","ip_address","conn_state","proto_ver","clean_start","_like_clientid","_like_username","_gte_created_at","_lte_created_at","_gte_connected_at","_lte_connected_at","_sort","_cursor","fields"], hasBody: false, bodyOptional: false },
  { operationId: "list_deactivated_alarms", method: "GET", path: "/alarms/deactivated", expressPath: "/alarms/deactivated", emqxName: "list_deactivated_alarms", emqxPath: "/alarms/deactivated", descr: "List deactivated alarms (the history)", indexed: false, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "list_listeners", method: "GET", path: "/listeners", expressPath: "/listeners", emqxName: "list_listeners", emqxPath: "/listeners/", descr: "A list of listeners in the cluster", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "list_node_alarms", method: "GET", path: "/alarms/{node}", expressPath: "/alarms/:node", emqxName: "list_node_alarms", emqxPath: "/alarms/:node", descr: "List alarms of a node", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["node"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "list_node_connections", method: "GET", path: "/nodes/{node}/connections", expressPath: "/nodes/:node/connections", emqxName: "list_node_connections", emqxPath: "nodes/:node/connections/", descr: "A list of connections on a node", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: true, pathParams: ["node"], queryParams: ["_page","_limit","clientid","username","ip_address","conn_state","proto_ver","clean_start","_like_clientid","_like_username","_gte_created_at","_lte_created_at","_gte_connected_at","_lte_connected_at","_sort","_cursor","fields"], hasBody: false, bodyOptional: false },
  { operationId: "list_node_listeners", method: "GET", path: "/nodes/{node}/listeners", expressPath: "/nodes/:node/listeners", emqxName: "list_node_listeners", emqxPath: "/nodes/:node/listeners", descr: "A list of listeners on the node", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["node"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "list_node_metrics", method: "GET", path: "/nodes/{node}/metrics", expressPath: "/nodes/:node/metrics", emqxName: "list_node_metrics", emqxPath: "/nodes/:node/metrics/", descr: "A list of metrics of a node", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["node"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "list_node_plugins", method: "GET", path: "/nodes/{node}/plugins", expressPath: "/nodes/:node/plugins", emqxName: "list_node_plugins", emqxPath: "/nodes/:node/plugins/", descr: "List all plugins on a node", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["node"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "list_node_sessions", method: "GET", path: "/nodes/{node}/sessions", expressPath: "/nodes/:node/sessions", emqxName: "list_node_sessions", emqxPath: "nodes/:node/sessions/", descr: "A list of sessions on a node", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: true, pathParams: ["node"], queryParams: ["_page","_limit","clientid","username","ip_address","conn_state","proto_ver","clean_start","_like_clientid","_like_username","_gte_created_at","_lte_created_at","_gte_connected_at","_lte_connected_at","_gte_mqueue_len","_sort","_cursor","fields"], hasBody: false, bodyOptional: false },
  { operationId: "list_node_subscriptions", method: "GET", path: "/nodes/{node}/subscriptions", expressPath: "/nodes/:node/subscriptions", emqxName: "list_node_subscriptions", emqxPath: "/nodes/:node/subscriptions/", descr: "A list of subscriptions on a node", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: true, pathParams: ["node"], queryParams: ["_page","_limit","clientid","topic","qos","share","_match_topic","_sort","_cursor","fields"], hasBody: false, bodyOptional: false },
  { operationId: "list_nodes", method: "GET", path: "/nodes", expressPath: "/nodes", emqxName: "list_nodes", emqxPath: "/nodes/", descr: "A list of nodes in the cluster", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "list_retained_messages", method: "GET", path: "/mqtt/retainer/messages", expressPath: "/mqtt/retainer/messages", emqxName: "list_retained_messages", emqxPath: "/mqtt/retainer/messages", descr: "List retained messages", indexed: false, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: true, pathParams: [], queryParams: ["_page","_limit","_match_topic","_sort","_cursor","fields"], hasBody: false, bodyOptional: false },
  { operationId: "list_routes", method: "GET", path: "/routes", expressPath: "/routes", emqxName: "list_routes", emqxPath: "/routes/", descr: "List routes", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: true, pathParams: [], queryParams: ["_page","_limit","_match_topic","_sort","_cursor","fields"], hasBody: false, bodyOptional: false },
  { operationId: "list_session_inflight_messages", method: "GET", path: "/sessions/{clientid}/inflight_messages", expressPath: "/sessions/:clientid/inflight_messages", emqxName: "list_session_inflight_messages", emqxPath: "/sessions/:clientid/inflight_messages", descr: "The messages in flight to a session's client", indexed: false, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: true, pathParams: ["clientid"], queryParams: ["_page","_limit","_cursor"], hasBody: false, bodyOptional: false },
  { operationId: "list_session_mqueue_messages", method: "GET", path: "/sessions/{clientid}/mqueue_messages", expressPath: "/sessions/:clientid/mqueue_messages", emqxName: "list_session_mqueue_messages", emqxPath: "/sessions/:clientid/mqueue_messages", descr: "The messages queued for a session", indexed: false, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: true, pathParams: ["clientid"], queryParams: ["_page","_limit","_cursor"], hasBody: false, bodyOptional: false },
  { operationId: "list_sessions", method: "GET", path: "/sessions", expressPath: "/sessions", emqxName: "list_sessions", emqxPath: "/sessions/", descr: "A list of sessions in the cluster", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: true, pathParams: [], queryParams: ["_page","_limit","clientid","username","ip_address","conn_state","proto_ver","clean_start","_like_clientid","_like_username","_gte_created_at","_lte_created_at","_gte_connected_at","_lte_connected_at","_gte_mqueue_len","_sort","_cursor","fields"], hasBody: false, bodyOptional: false },
  { operationId: "list_stats", method: "GET", path: "/stats", expressPath: "/stats", emqxName: "list_stats", emqxPath: "/stats/", descr: "A list of stats of all nodes in the cluster", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "list_subscriptions", method: "GET", path: "/subscriptions", expressPath: "/subscriptions", emqxName: "list_subscriptions", emqxPath: "/subscriptions/", descr: "A list of subscriptions in the cluster", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: true, pathParams: [], queryParams: ["_page","_limit","clientid","topic","qos","share","_match_topic","_sort","_cursor","fields"], hasBody: false, bodyOptional: false },
  { operationId: "list_users", method: "GET", path: "/users", expressPath: "/users", emqxName: "list_users", emqxPath: "/users/", descr: "List users", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: ["_like_name","_sort"], hasBody: false, bodyOptional: false },
  { operationId: "load_plugin", method: "PUT", path: "/nodes/{node}/plugins/{plugin}/load", expressPath: "/nodes/:node/plugins/:plugin/load", emqxName: "load_plugin", emqxPath: "/nodes/:node/plugins/:plugin/load", descr: "Load a plugin", indexed: true, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["node","plugin"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "lookup_acl_clientid", method: "GET", path: "/acl/clientid/{clientid}", expressPath: "/acl/clientid/:clientid", emqxName: "lookup_clientid", emqxPath: "/acl/clientid/:clientid", descr: "Lookup the ACL rules of a client id", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["clientid"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "lookup_acl_ipaddress", method: "GET", path: "/acl/ipaddress/{ipaddress}", expressPath: "/acl/ipaddress/:ipaddress", emqxName: "lookup_ipaddress", emqxPath: "/acl/ipaddress/:ipaddress", descr: "Lookup the ACL rules of an IP range", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["ipaddress"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "lookup_acl_username", method: "GET", path: "/acl/username/{username}", expressPath: "/acl/username/:username", emqxName: "lookup_username", emqxPath: "/acl/username/:username", descr: "Lookup the ACL rules of a user name", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["username"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "lookup_app", method: "GET", path: "/apps/{appid}", expressPath: "/apps/:appid", emqxName: "lookup_app", emqxPath: "/apps/:appid", descr: "Lookup Application", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["appid"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "lookup_client_subscriptions", method: "GET", path: "/subscriptions/{clientid}", expressPath: "/subscriptions/:clientid", emqxName: "lookup_client_subscriptions", emqxPath: "/subscriptions/:clientid", descr: "A list of subscriptions of a client", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["clientid"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "lookup_client_subscriptions_with_node", method: "GET", path: "/nodes/{node}/subscriptions/{clientid}", expressPath: "/nodes/:node/subscriptions/:clientid", emqxName: "lookup_client_subscriptions_with_node", emqxPath: "/nodes/:node/subscriptions/:clientid", descr: "A list of subscriptions of a client on the node", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["node","clientid"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "lookup_connections", method: "GET", path: "/connections/{clientid}", expressPath: "/connections/:clientid", emqxName: "lookup_connections", emqxPath: "/connections/:clientid", descr: "Lookup a connection in the cluster", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["clientid"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "lookup_node_connections", method: "GET", path: "/nodes/{node}/connections/{clientid}", expressPath: "/nodes/:node/connections/:clientid", emqxName: "lookup_node_connections", emqxPath: "nodes/:node/connections/:clientid", descr: "Lookup a connection on node", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["node","clientid"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "lookup_node_session", method: "GET", path: "/nodes/{node}/sessions/{clientid}", expressPath: "/nodes/:node/sessions/:clientid", emqxName: "lookup_node_session", emqxPath: "nodes/:node/sessions/:clientid", descr: "Lookup a session on the node", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["node","clientid"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "lookup_node_stats", method: "GET", path: "/nodes/{node}/stats", expressPath: "/nodes/:node/stats", emqxName: "lookup_node_stats", emqxPath: "/nodes/:node/stats/", descr: "A list of stats of a node", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["node"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "lookup_retained_message", method: "GET", path: "/mqtt/retainer/message/{topic}", expressPath: "/mqtt/retainer/message/:topic", emqxName: "lookup_retained_message", emqxPath: "/mqtt/retainer/message/:topic", descr: "Get the retained message of a topic", indexed: false, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["topic"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "lookup_routes", method: "GET", path: "/routes/{topic}", expressPath: "/routes/:topic", emqxName: "lookup_routes", emqxPath: "/routes/:topic", descr: "Lookup routes to a topic", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["topic"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "lookup_session", method: "GET", path: "/sessions/{clientid}", expressPath: "/sessions/:clientid", emqxName: "lookup_session", emqxPath: "/sessions/:clientid", descr: "Lookup a session in the cluster", indexed: true, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["clientid"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "mqtt_publish", method: "POST", path: "/mqtt/publish", expressPath: "/mqtt/publish", emqxName: "mqtt_publish", emqxPath: "/mqtt/publish", descr: "Publish a MQTT message", indexed: true, secured: true, requiredRole: "publisher", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: ["with_matched"], hasBody: true, bodyOptional: false },
  { operationId: "mqtt_publish_batch", method: "POST", path: "/mqtt/publish_batch", expressPath: "/mqtt/publish_batch", emqxName: "mqtt_publish_batch", emqxPath: "/mqtt/publish_batch", descr: "Publish many MQTT messages", indexed: false, secured: true, requiredRole: "publisher", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: [], hasBody: true, bodyOptional: false },
  { operationId: "mqtt_subscribe", method: "POST", path: "/mqtt/subscribe", expressPath: "/mqtt/subscribe", emqxName: "mqtt_subscribe", emqxPath: "/mqtt/subscribe", descr: "Subscribe a topic", indexed: true, secured: true, requiredRole: "publisher", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: ["offline"], hasBody: true, bodyOptional: false },
  { operationId: "mqtt_subscribe_batch", method: "POST", path: "/mqtt/subscribe_batch", expressPath: "/mqtt/subscribe_batch", emqxName: "mqtt_subscribe_batch", emqxPath: "/mqtt/subscribe_batch", descr: "Subscribe many clients or topics", indexed: false, secured: true, requiredRole: "publisher", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: ["offline"], hasBody: true, bodyOptional: false },
  { operationId: "mqtt_unsubscribe", method: "POST", path: "/mqtt/unsubscribe", expressPath: "/mqtt/unsubscribe", emqxName: "mqtt_unsubscribe", emqxPath: "/mqtt/unsubscribe", descr: "Unsubscribe a topic", indexed: true, secured: true, requiredRole: "publisher", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: ["offline"], hasBody: true, bodyOptional: false },
  { operationId: "mqtt_unsubscribe_batch", method: "POST", path: "/mqtt/unsubscribe_batch", expressPath: "/mqtt/unsubscribe_batch", emqxName: "mqtt_unsubscribe_batch", emqxPath: "/mqtt/unsubscribe_batch", descr: "Unsubscribe many clients or topics", indexed: false, secured: true, requiredRole: "publisher", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: ["offline"], hasBody: true, bodyOptional: false },
  { operationId: "prometheus_stats", method: "GET", path: "/prometheus/stats", expressPath: "/prometheus/stats", emqxName: "prometheus_stats", emqxPath: "/prometheus/stats", descr: "Metrics in the Prometheus text format", indexed: false, secured: true, requiredRole: "viewer", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: [], queryParams: ["mode"], hasBody: false, bodyOptional: false },
  { operationId: "unload_plugin", method: "PUT", path: "/nodes/{node}/plugins/{plugin}/unload", expressPath: "/nodes/:node/plugins/:plugin/unload", emqxName: "unload_plugin", emqxPath: "/nodes/:node/plugins/:plugin/unload", descr: "Unload a plugin", indexed: true, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["node","plugin"], queryParams: [], hasBody: false, bodyOptional: false },
  { operationId: "update_app", method: "PUT", path: "/apps/{appid}", expressPath: "/apps/:appid", emqxName: "update_app", emqxPath: "/apps/:appid", descr: "Update Application", indexed: true, secured: true, requiredRole: "administrator", roleInBody: true, defaultBodyRole: null, paginated: false, pathParams: ["appid"], queryParams: [], hasBody: true, bodyOptional: false },
  { operationId: "update_config", method: "PUT", path: "/configs/{app}", expressPath: "/configs/:app", emqxName: "update_config", emqxPath: "/configs/:app", descr: "Update config of an application in the cluster", indexed: true, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["app"], queryParams: [], hasBody: true, bodyOptional: false },
  { operationId: "update_node_config", method: "PUT", path: "/nodes/{node}/configs/{app}", expressPath: "/nodes/:node/configs/:app", emqxName: "update_node_config", emqxPath: "/nodes/:node/configs/:app", descr: "Update config of an application on a node", indexed: true, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["node","app"], queryParams: [], hasBody: true, bodyOptional: false },
  { operationId: "update_plugin_configs", method: "PUT", path: "/nodes/{node}/plugin_configs/{plugin}", expressPath: "/nodes/:node/plugin_configs/:plugin", emqxName: "update_plugin_configs", emqxPath: "/nodes/:node/plugin_configs/:plugin", descr: "Update configurations of a plugin on the node", indexed: true, secured: true, requiredRole: "administrator", roleInBody: false, defaultBodyRole: null, paginated: false, pathParams: ["node","plugin"], queryParams: [], hasBody: true, bodyOptional: false },
  { operationId: "update_user", method: "PUT", path: "/users/{name}", expressPath: "/users/:name", emqxName: "update_user", emqxPath: "/users/:name", descr: "Update an user", indexed: true, secured: true, requiredRole: "administrator", roleInBody: true, defaultBodyRole: null, paginated: false, pathParams: ["name"], queryParams: [], hasBody: true, bodyOptional: false }
]
