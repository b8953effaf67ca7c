import { Observable, type OperatorFunction, type MonoTypeOperatorFunction } from 'rxjs';
import { createWindows } from './create.js';
import { createWindowJoin, type JoinOptions, type JoinSide, type Joined } from './join.js';
import type { WindowOptions } from './options.js';
import type { StreamItem, WindowOperator, WindowOutput } from './types.js';
import { WatermarkTracker } from './watermark.js';
import type { WindowSpec } from './windows.js';

/** Anything with the operators' `process(item, out)` shape: window operators and the jobs. */
export interface ItemProcessor<I, O> {
  process(item: I, out?: O[]): O[];
}

export interface RxOptions {
  /**
   * On completion, advance the watermark to +Infinity first, emitting every open window. Off by
   * default: a live stream completes at shutdown, when open windows are not finished but checkpointed.
   */
  flushOnComplete?: boolean;
}

/**
 * The thin RxJS face: each item goes through `processor.process` and what it returns is emitted,
 * synchronously and in order. A factory gives each subscription its own state; an instance (for
 * example one restored from a checkpoint) is shared by every subscription.
 */
export function through<I, O>(processor: ItemProcessor<I, O> | (() => ItemProcessor<I, O>), flush?: (p: ItemProcessor<I, O>, out: O[]) => void): OperatorFunction<I, O> {
  return (source) =>
    new Observable<O>((subscriber) => {
      const p = typeof processor === 'function' ? processor() : processor;
      const out: O[] = [];
      const emit = () => {
        for (let i = 0; i < out.length; i++) subscriber.next(out[i]!);
        out.length = 0;
      };
      return source.subscribe({
        next(item) {
          p.process(item, out);
          emit();
        },
        error(err) {
          subscriber.error(err);
        },
        complete() {
          if (flush) {
            flush(p, out);
            emit();
          }
          subscriber.complete();
        },
      });
    });
}

const flushAll = <I, O>(p: ItemProcessor<I, O>, out: O[]) => p.process({ kind: 'watermark', time: Number.POSITIVE_INFINITY } as I, out);

/**
 * Windowed aggregation as an RxJS operator:
 * `items$.pipe(windowed(tumbling(60_000), { key: 'userId', aggregate: count() }))`, or over an
 * existing (restored) operator: `items$.pipe(windowed(op))`.
 */
export function windowed<T, R>(operator: WindowOperator<T, R>, rx?: RxOptions): OperatorFunction<StreamItem<T>, WindowOutput<T, R>>;
export function windowed<T, A, R>(spec: WindowSpec, opts: WindowOptions<T, A, R> & RxOptions): OperatorFunction<StreamItem<T>, WindowOutput<T, R>>;
export function windowed<T, A, R>(
  specOrOp: WindowSpec | WindowOperator<T, R>,
  opts?: (WindowOptions<T, A, R> & RxOptions) | RxOptions,
): OperatorFunction<StreamItem<T>, WindowOutput<T, R>> {
  const flush = opts?.flushOnComplete === true ? flushAll : undefined;
  if ('process' in specOrOp) return through(specOrOp, flush);
  const spec = specOrOp;
  const o = opts as WindowOptions<T, A, R>;
  createWindows(spec, o); // validate options at build time, not at subscription
  return through(() => createWindows(spec, o), flush);
}

/**
 * Two streams joined on the same windows. Events pass through tagged with their side; the joined
 * watermark is the lower of the two sides' latest watermarks, so neither side's windows close early.
 * Items are processed in the order the two observables deliver them.
 */
export function windowJoin<L, R, LA, RA, LR, RR>(
  left$: Observable<StreamItem<L>>,
  right$: Observable<StreamItem<R>>,
  spec: WindowSpec,
  opts: JoinOptions<L, R, LA, RA, LR, RR> & RxOptions,
): Observable<WindowOutput<JoinSide<L, R>, Joined<LR, RR>>> {
  createWindowJoin(spec, opts); // options checked now, not at subscription
  return new Observable((subscriber) => {
    const op = createWindowJoin(spec, opts);
    const out: WindowOutput<JoinSide<L, R>, Joined<LR, RR>>[] = [];
    const wms = { left: Number.NEGATIVE_INFINITY, right: Number.NEGATIVE_INFINITY };
    let done = 0;
    const emit = () => {
      for (let i = 0; i < out.length; i++) subscriber.next(out[i]!);
      out.length = 0;
    };
    const side = <V>(name: 'left' | 'right') => ({
      next(item: StreamItem<V>) {
        if (item.kind === 'watermark') {
          wms[name] = Math.max(wms[name], item.time);
          op.advance(Math.min(wms.left, wms.right), out);
        } else {
          op.process({ kind: 'event', time: item.time, seq: item.seq, value: { side: name, value: item.value } as unknown as JoinSide<L, R> }, out);
        }
        emit();
      },
      error(err: unknown) {
        subscriber.error(err);
      },
      complete() {
        // A finished side holds nothing back any more.
        wms[name] = Number.POSITIVE_INFINITY;
        if (++done < 2) op.advance(Math.min(wms.left, wms.right), out);
        else if (opts.flushOnComplete === true) op.advance(Number.POSITIVE_INFINITY, out);
        emit();
        if (done === 2) subscriber.complete();
      },
    });
    const a = left$.subscribe(side<L>('left'));
    const b = right$.subscribe(side<R>('right'));
    return () => {
      a.unsubscribe();
      b.unsubscribe();
    };
  });
}

/** Follows each event with a watermark item (max event time − maxOutOfOrder) whenever that moves. */
export function withWatermarks<T>(maxOutOfOrder: number): MonoTypeOperatorFunction<StreamItem<T>> {
  new WatermarkTracker(maxOutOfOrder); // a bad bound throws here, when the pipeline is built
  return (source) =>
    new Observable((subscriber) => {
      const tracker = new WatermarkTracker(maxOutOfOrder);
      return source.subscribe({
        next(item) {
          subscriber.next(item);
          if (item.kind === 'event') {
            const wm = tracker.observe(item.time);
            if (wm !== null) subscriber.next({ kind: 'watermark', time: wm });
          }
        },
        error: (e) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}
