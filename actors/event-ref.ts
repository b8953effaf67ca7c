/**
 * What an actor keeps of an event: enough to run patterns over it and explain a match. Every
 * field is always present (empty string when the event had none), because pattern expressions
 * read fields by name and a missing key would be an evaluation error rather than "no category".
 * A class, not a plain object: the expression engine checks values against this declared type.
 */
export class EventRef {
  constructor(
    readonly seq: number,
    readonly eventTime: number,
    readonly eventType: string,
    readonly productId: string,
    readonly categoryId: string,
    readonly categoryCode: string,
    readonly brand: string,
    readonly price: number,
    readonly userSession: string,
  ) {}

  /** Rebuilds an instance from its JSON form (snapshots are JSON all through). */
  static revive(o: EventRefJson): EventRef {
    return new EventRef(o.seq, o.eventTime, o.eventType, o.productId, o.categoryId ?? '', o.categoryCode ?? '', o.brand ?? '', o.price, o.userSession ?? '');
  }
}

/** The JSON form; optional fields default to the empty string. */
export interface EventRefJson {
  seq: number;
  eventTime: number;
  eventType: string;
  productId: string;
  categoryId?: string;
  categoryCode?: string;
  brand?: string;
  price: number;
  userSession?: string;
}

/** Field names and CEL types, for the expression environment: one list beside the class. */
export const EVENT_REF_FIELDS = {
  seq: 'double',
  eventTime: 'double',
  eventType: 'string',
  productId: 'string',
  categoryId: 'string',
  categoryCode: 'string',
  brand: 'string',
  price: 'double',
  userSession: 'string',
} as const satisfies Record<keyof EventRefJson, string>;
