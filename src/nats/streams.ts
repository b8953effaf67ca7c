import { nanos } from '@nats-io/transport-node';
import { StorageType, DiscardPolicy, RetentionPolicy, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { Streams, Subjects } from './subjects.js';

const DAY_MS = 24 * 3_600_000;

export interface StreamSettings {
  eventsMaxAgeMs: number;
  actionsDedupeMs: number;
}

/** The four streams Nudge relies on, with the settings that make recovery exactly-once. */
export function streamConfigs(s: StreamSettings): Array<Partial<StreamConfig> & { name: string }> {
  const outputs = (name: string, subjects: string[], maxAgeMs: number) => ({
    name,
    subjects,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(Math.max(maxAgeMs, s.actionsDedupeMs)),
    // Replayed outputs carry the same Nats-Msg-Id; this window is what drops the second copy.
    duplicate_window: nanos(s.actionsDedupeMs),
  });
  return [
    {
      name: Streams.events,
      subjects: [...Subjects.eventsStreamSubjects],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: nanos(s.eventsMaxAgeMs),
      duplicate_window: nanos(2 * 60_000),
    },
    outputs(Streams.actions, [Subjects.actionsAll], 7 * DAY_MS),
    outputs(Streams.analytics, [Subjects.analyticsAll], 7 * DAY_MS),
    outputs(Streams.dlq, [Subjects.dlqAll], 30 * DAY_MS),
  ];
}

/** Creates what is missing and brings existing streams to our settings; returns what it did. */
export async function ensureStreams(jsm: JetStreamManager, s: StreamSettings): Promise<string[]> {
  const done: string[] = [];
  for (const cfg of streamConfigs(s)) {
    try {
      const info = await jsm.streams.info(cfg.name);
      const c = info.config;
      const stale = c.max_age !== cfg.max_age || c.duplicate_window !== cfg.duplicate_window || String(c.subjects) !== String(cfg.subjects);
      if (stale) {
        await jsm.streams.update(cfg.name, { ...c, max_age: cfg.max_age, duplicate_window: cfg.duplicate_window, subjects: cfg.subjects });
        done.push(`updated ${cfg.name}`);
      }
    } catch (e) {
      if (!/not found/i.test((e as Error).message)) throw e;
      await jsm.streams.add(cfg);
      done.push(`created ${cfg.name}`);
    }
  }
  return done;
}
