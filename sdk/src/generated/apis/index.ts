/* tslint:disable */
/* eslint-disable */
export * from './AclApi.js';
export * from './AlarmsApi.js';
export * from './ApiApi.js';
export * from './AppsApi.js';
export * from './AuditApi.js';
export * from './BannedApi.js';
export * from './BrokersApi.js';
export * from './ConfigsApi.js';
export * from './ConnectionsApi.js';
export * from './DataApi.js';
export * from './EventsApi.js';
export * from './ListenersApi.js';
export * from './MetricsApi.js';
export * from './NodesApi.js';
export * from './PluginsApi.js';
export * from './PubsubApi.js';
export * from './RetainerApi.js';
export * from './RoutesApi.js';
export * from './SessionsApi.js';
export * from './StatsApi.js';
export * from './SubscriptionsApi.js';
export * from './UsersApi.js';
