import { eventSchema, describeIssues, type NudgeEvent } from './schema.js';
import { fastValidateEvent } from './fast-validate.js';

export type Decoded = { ok: true; event: NudgeEvent } | { ok: false; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface DecodeExpectations {
  maxBytes: number;
  /** From the subject: the body must agree with where it was published. */
  eventType: string;
  userId: string;
}

/** Bytes off the wire → a validated event or the reason it is not one. Never throws. */
export function decodeEvent(data: Uint8Array, expect: DecodeExpectations): Decoded {
  if (data.byteLength > expect.maxBytes) {
    return { ok: false, reason: `payload too large: ${data.byteLength} bytes > limit ${expect.maxBytes}` };
  }
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return { ok: false, reason: 'payload is not valid UTF-8' };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `invalid JSON: ${(e as Error).message}` };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { ok: false, reason: 'event must be a JSON object' };
  }
  let event = fastValidateEvent(json as Record<string, unknown>);
  if (event === undefined) {
    const parsed = eventSchema.safeParse(json);
    if (!parsed.success) return { ok: false, reason: `invalid event: ${describeIssues(parsed.error)}` };
    event = parsed.data;
  }
  if (event.eventType !== expect.eventType) {
    return { ok: false, reason: `subject/body mismatch: subject eventType "${expect.eventType}", body "${event.eventType}"` };
  }
  if (event.userId !== expect.userId) {
    return { ok: false, reason: `subject/body mismatch: subject userId "${expect.userId}", body "${event.userId}"` };
  }
  return { ok: true, event };
}
