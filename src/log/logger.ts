import { pino, type Logger } from 'pino';

export type { Logger };

/** Logs go to stderr so stdout stays clean for command output (tables, NDJSON). */
export function createLogger(level: string = process.env.NUDGE_LOG_LEVEL ?? 'info', name = 'nudge'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}
