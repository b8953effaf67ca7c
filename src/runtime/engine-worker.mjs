// A worker thread's entry: TypeScript through tsx, as bin/nudge.js does for the CLI, so a clone
// still needs no build step.
import { register } from 'tsx/esm/api';
register();
await import('./engine-thread.ts');
