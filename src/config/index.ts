export { loadConfig, ownedPartitionList, configSchema, ConfigError } from './config.js';
export type { Config, ConfigInput } from './config.js';
