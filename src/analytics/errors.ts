export const AnalyticsErrorCodes = {
  /** A window, aggregation or job was built with options that cannot work; thrown at construction. */
  invalidOptions: 'ANALYTICS_INVALID_OPTIONS',
  /** An input item is not an event or watermark with a numeric time: a bug in the caller, not bad data. */
  invalidItem: 'ANALYTICS_INVALID_ITEM',
  /** A snapshot handed to restore() is not one this operator (with these options) wrote. */
  badSnapshot: 'ANALYTICS_BAD_SNAPSHOT',
} as const;
export type AnalyticsErrorCode = (typeof AnalyticsErrorCodes)[keyof typeof AnalyticsErrorCodes];

export class AnalyticsError extends Error {
  override readonly name = 'AnalyticsError';
  constructor(
    readonly code: AnalyticsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const invalidOptions = (message: string) => new AnalyticsError(AnalyticsErrorCodes.invalidOptions, message);
export const badSnapshot = (message: string) => new AnalyticsError(AnalyticsErrorCodes.badSnapshot, `cannot restore: ${message}`);
