// Every worker thread's entry: TypeScript through tsx, as bin/nudge.js does for the CLI (so a
// clone needs no build step), then the module the host named.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';
register();
await import(workerData.module);
