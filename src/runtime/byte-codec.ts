/**
 * The primitives of the actor snapshot format (actor-codec.ts): varints, doubles and strings in
 * one reused buffer. Hand-rolled because a snapshot is written for most events at 100k users,
 * and a general MessagePack encoder spent most of its time deciding each value's type and boxing
 * doubles in the mixed arrays it was given.
 *
 * Strings repeat from one event of a user to the next (the event type, the session id, the
 * category), so a string may be written as "the same as `prev`", which the reader is given too:
 * a tag `len << 1` before the bytes of a string, or 1 for the same one. Comparing with the one
 * previous value is cheap; a table of every string seen cost more than the bytes it saved.
 */
const SAME = 1;

export class ByteWriter {
  private buf: Buffer = Buffer.allocUnsafe(64 * 1024);
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  private pos = 0;

  /** Starts a new record. */
  reset(): void {
    this.pos = 0;
  }

  get length(): number {
    return this.pos;
  }

  /**
   * A copy of what was written: the buffer itself is reused by the next record. Buffer.from
   * carves small copies out of Node's shared pool; a Uint8Array of its own costs a fresh
   * ArrayBuffer, ten times as much as the copy.
   */
  bytes(): Uint8Array {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  /** Reserves four bytes to be filled later with patchU32; returns where they are. */
  reserveU32(): number {
    this.ensure(4);
    const at = this.pos;
    this.pos += 4;
    return at;
  }

  patchU32(at: number, value: number): void {
    this.view.setUint32(at, value);
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** An unsigned integer up to 2^53, seven bits a byte. */
  uint(n: number): void {
    this.ensure(8);
    const buf = this.buf;
    if (n < 0x80000000) {
      while (n >= 0x80) {
        buf[this.pos++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
    } else {
      while (n >= 0x80) {
        buf[this.pos++] = (n % 0x80) | 0x80;
        n = Math.floor(n / 0x80);
      }
    }
    buf[this.pos++] = n;
  }

  /** A 32-bit signed integer (a bit set may be negative), zigzagged so small ones stay short. */
  int32(n: number): void {
    this.uint(((n << 1) ^ (n >> 31)) >>> 0);
  }

  f64(x: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, x);
    this.pos += 8;
  }

  /** `s`, or just a mark when it equals `prev` (the reader passes the same `prev`). */
  str(s: string, prev?: string): void {
    if (s === prev) {
      this.byte(SAME);
      return;
    }
    const n = s.length;
    this.ensure(5 + 3 * n);
    const buf = this.buf;
    // Most strings are short ASCII: the length is known up front and the bytes are the char codes.
    if (n < 64) {
      const at = this.pos;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + 1 + i] = c;
      }
      if (i === n) {
        buf[at] = n << 1;
        this.pos = at + 1 + n;
        return;
      }
    }
    this.uint(Buffer.byteLength(s) << 1);
    this.pos += buf.write(s, this.pos, 'utf8');
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
  }
}

/** Reads what a ByteWriter wrote; any read past the end throws. */
export class ByteReader {
  private readonly buf: Buffer;
  private readonly view: DataView;
  pos = 0;

  constructor(bytes: Uint8Array, at = 0) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (at > bytes.byteLength) throw truncated();
    this.pos = at;
  }

  get length(): number {
    return this.buf.length;
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw truncated();
    return this.buf[this.pos++]!;
  }

  u32(): number {
    if (this.pos + 4 > this.buf.length) throw truncated();
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  uint(): number {
    const buf = this.buf;
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= buf.length) throw truncated();
      const b = buf[this.pos++]!;
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
    }
    throw new Error('stored actor has a number longer than 8 bytes');
  }

  int32(): number {
    const z = this.uint();
    return (z >>> 1) ^ -(z & 1);
  }

  f64(): number {
    if (this.pos + 8 > this.buf.length) throw truncated();
    const x = this.view.getFloat64(this.pos);
    this.pos += 8;
    return x;
  }

  str(prev?: string): string {
    const tag = this.uint();
    if (tag === SAME) {
      if (prev === undefined) throw new Error('stored actor repeats a string it has not written');
      return prev;
    }
    const n = tag >>> 1;
    const at = this.pos;
    if (at + n > this.buf.length) throw truncated();
    this.pos = at + n;
    let s: string | null = null;
    if (n < 24) {
      s = '';
      for (let i = 0; i < n; i++) {
        const c = this.buf[at + i]!;
        if (c >= 0x80) {
          s = null;
          break;
        }
        s += String.fromCharCode(c);
      }
    }
    return s ?? this.buf.toString('utf8', at, at + n);
  }
}

const truncated = () => new Error('stored actor ends early: truncated or not an actor');
