interface Entry {
  deadline: number;
  key: string;
}

const before = (a: Entry, b: Entry) => a.deadline < b.deadline || (a.deadline === b.deadline && a.key < b.key);

/**
 * Event-time timers of one partition, one per key. Due timers come out in (deadline, key) order,
 * so firing order never depends on insertion history and a recovered queue fires exactly like the
 * original. A later deadline for a key is not pushed at once: the old entry is re-queued when it
 * surfaces, so a user who clicks all day holds one heap entry, not one per click.
 */
export class TimerQueue {
  private readonly deadlines = new Map<string, number>();
  private readonly heap: Entry[] = [];

  get size(): number {
    return this.deadlines.size;
  }

  get(key: string): number | undefined {
    return this.deadlines.get(key);
  }

  set(key: string, deadline: number | null): void {
    const prev = this.deadlines.get(key);
    if (deadline === null) {
      if (prev === undefined) return;
      this.deadlines.delete(key);
      return;
    }
    if (prev === deadline) return;
    this.deadlines.set(key, deadline);
    if (prev === undefined || deadline < prev) this.push({ deadline, key });
  }

  /** Loads a timer on recovery (timers are rebuilt from the stored actors, not stored apart). */
  restore(key: string, deadline: number): void {
    this.deadlines.set(key, deadline);
    this.push({ deadline, key });
  }

  /** Removes and returns every timer with deadline <= watermark, in (deadline, key) order. */
  popDue(watermark: number): Entry[] {
    const due: Entry[] = [];
    while (this.heap.length > 0 && this.heap[0]!.deadline <= watermark) {
      const top = this.pop();
      const current = this.deadlines.get(top.key);
      if (current === undefined || current < top.deadline) continue;
      if (current > top.deadline) {
        this.push({ deadline: current, key: top.key });
        continue;
      }
      this.deadlines.delete(top.key);
      due.push(top);
    }
    return due;
  }

  nextDeadline(): number | undefined {
    // The heap top may be stale; it is still a lower bound, which is all callers need.
    return this.heap[0]?.deadline;
  }

  /** Pending timers as [key, deadline], for inspection. */
  entries(): IterableIterator<[string, number]> {
    return this.deadlines.entries();
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const up = h[parent]!;
      if (!before(e, up)) break;
      h[i] = up;
      i = parent;
    }
    h[i] = e;
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      // Sift the hole down and drop `last` where it belongs.
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && before(h[r]!, h[l]!) ? r : l;
        if (!before(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
