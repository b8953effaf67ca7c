export { loadConfig, ownedPartitionList, configSchema, ConfigError, DEFAULT_NATS_URL } from './config.js';
export type { Config, ConfigInput } from './config.js';
