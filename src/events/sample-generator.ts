/**
 * Deterministic, seeded REES46-style clickstream for the demo, tests and benchmarks.
 * Output depends only on the options: no Math.random, no wall clock.
 *
 * Each user owns a private PRNG stream, so what a user does never depends on how the
 * users interleave; a min-heap keyed by (next event time, user index) merges all users
 * into one time-ordered stream. A session's events are planned when its first event is
 * due and dropped once emitted, so memory grows with users and concurrently open
 * sessions, not with rows.
 */

export interface SampleOptions {
  seed?: number;
  users?: number;
  sessionsPerUser?: number;
  startTime?: number;
  spanMs?: number;
  /**
   * At most this many events per session (the first ones of its plan; the plan itself and every
   * other draw are unchanged). Default: no limit. For scale runs that need many users, not many
   * events each (bench/memory-scale.ts).
   */
  maxSessionEvents?: number;
}

export interface SampleRow {
  event_time: string;
  event_type: 'view' | 'cart' | 'remove_from_cart' | 'purchase';
  product_id: string;
  category_id: string;
  category_code: string;
  brand: string;
  price: string;
  user_id: string;
  user_session: string;
}

type EventType = SampleRow['event_type'];

export const REES46_HEADER = 'event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session';

export function toCsvLine(row: SampleRow): string {
  return `${row.event_time},${row.event_type},${row.product_id},${row.category_id},${row.category_code},${row.brand},${row.price},${row.user_id},${row.user_session}`;
}

// ---------------------------------------------------------------- randomness

/** murmur3 finaliser: a bijection on uint32, so distinct inputs stay distinct. */
function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** sfc32: 128 bits of state, so per-user streams do not collide the way 32-bit mulberry32 states would. */
class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number, stream: number) {
    this.a = fmix32((seed ^ 0x2545f491) >>> 0);
    this.b = fmix32((stream ^ 0x9e3779b9) >>> 0);
    this.c = fmix32((this.a ^ this.b ^ 0x6a09e667) >>> 0);
    for (let i = 0; i < 12; i++) this.next();
  }

  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  float(): number { return this.next() / 4294967296; }
  int(n: number): number { return Math.floor(this.float() * n); }
  chance(p: number): boolean { return this.float() < p; }
  pick<T>(items: readonly T[]): T { return items[this.int(items.length)]!; }
  /** Geometric-ish count with the given mean, capped so a freak draw cannot make a 1000-event session. */
  count(mean: number, cap: number): number { return Math.min(cap, Math.floor(-Math.log(1 - this.float()) * mean)); }
  normal(): number { return Math.sqrt(-2 * Math.log(1 - this.float())) * Math.cos(2 * Math.PI * this.float()); }
  /** Index into a cumulative weight table. */
  weighted(cum: Float64Array): number {
    const x = this.float() * cum[cum.length - 1]!;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid]! > x) hi = mid; else lo = mid + 1;
    }
    return lo;
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

/** Zipf-like popularity, handed out in random order so popularity is unrelated to id order. */
function popularity(rng: Rng, n: number, exponent: number): Float64Array {
  const weights = rng.shuffle(Array.from({ length: n }, (_, r) => 1 / (r + 1) ** exponent));
  const cum = new Float64Array(n);
  let sum = 0;
  weights.forEach((w, i) => { sum += w; cum[i] = sum; });
  return cum;
}

// ---------------------------------------------------------------- catalog

interface Product { id: string; category: number; categoryId: string; code: string; brand: string; price: string }
interface Category { id: string; code: string; products: number[]; popularity: Float64Array }
interface Catalog { products: Product[]; categories: Category[]; popularity: Float64Array }

// [category_code, median price, brands] — shaped after the REES46 electronics store.
const CODED: ReadonlyArray<readonly [string, number, readonly string[]]> = [
  ['electronics.smartphone', 260, ['samsung', 'apple', 'xiaomi', 'huawei', 'oppo', 'meizu']],
  ['electronics.audio.headphone', 35, ['sony', 'jbl', 'samsung', 'apple', 'xiaomi', 'sennheiser']],
  ['electronics.video.tv', 420, ['samsung', 'lg', 'sony', 'philips', 'artel']],
  ['electronics.clocks', 120, ['casio', 'apple', 'samsung', 'garmin', 'amazfit']],
  ['computers.notebook', 650, ['lenovo', 'hp', 'asus', 'acer', 'apple', 'dell']],
  ['computers.peripherals.mouse', 14, ['logitech', 'a4tech', 'defender', 'razer']],
  ['computers.components.videocards', 380, ['msi', 'gigabyte', 'asus', 'palit']],
  ['appliances.kitchen.refrigerators', 520, ['lg', 'samsung', 'bosch', 'indesit', 'atlant']],
  ['appliances.kitchen.kettle', 22, ['tefal', 'bosch', 'polaris', 'redmond', 'vitek']],
  ['appliances.kitchen.washer', 360, ['lg', 'samsung', 'bosch', 'indesit', 'beko']],
  ['appliances.environment.vacuum', 140, ['samsung', 'xiaomi', 'philips', 'bosch', 'redmond']],
  ['appliances.personal.hair_cutter', 28, ['philips', 'braun', 'rowenta', 'polaris']],
  ['apparel.shoes', 55, ['nike', 'adidas', 'puma', 'respect', 'baden']],
  ['furniture.living_room.sofa', 380, ['askona', 'ormatek', 'lazurit']],
  ['kids.toys', 18, ['lego', 'hasbro', 'mattel', 'hotwheels']],
  ['sport.bicycle', 290, ['stels', 'forward', 'stern', 'merida']],
  ['auto.accessories.player', 75, ['pioneer', 'kenwood', 'jvc', 'sony']],
  ['construction.tools.drill', 85, ['bosch', 'makita', 'dewalt', 'interskol']],
  ['accessories.bag', 30, ['samsonite', 'xiaomi', 'wenger']],
  ['country_yard.lawn_mower', 210, ['huter', 'makita', 'champion']],
];
// Code-less categories carry the cosmetics-store brands, as in REES46's code-less rows.
const UNCODED_BRANDS = ['runail', 'irisk', 'grattol', 'masura', 'estel', 'kapous', 'jessnail', 'ingarden', 'uno', 'lianail', 'freedecor', 'domix', 'cnd', 'kinetics', 'zinger', 'concept'];
const CATEGORIES = 20;
const UNCODED = 7; // ~1/3 of categories, and products are spread evenly, so ~1/3 of products have ''

function buildCatalog(seed: number, productCount: number): Catalog {
  const rng = new Rng(seed, 0xca7a1065);
  const coded = rng.shuffle([...CODED]).slice(0, CATEGORIES - UNCODED);
  const specs = rng.shuffle([
    ...coded.map(([code, median, brands]) => ({ code, median, brands })),
    ...Array.from({ length: UNCODED }, () => ({
      code: '',
      median: Math.exp(Math.log(2) + rng.float() * Math.log(150)),
      brands: rng.shuffle([...UNCODED_BRANDS]).slice(0, 3 + rng.int(4)),
    })),
  ]);

  const shares = specs.map(() => 0.6 + rng.float() * 0.8);
  const shareSum = shares.reduce((a, b) => a + b, 0);
  const usedIds = new Set<string>();
  const categories: Category[] = [];
  const products: Product[] = [];
  let nextProductId = 1_000_000 + rng.int(5000);

  specs.forEach((spec, c) => {
    let id: string;
    do id = `2053013${String(rng.int(1e6)).padStart(6, '0')}${String(rng.int(1e6)).padStart(6, '0')}`; while (usedIds.has(id));
    usedIds.add(id);
    const count = Math.max(3, Math.round((shares[c]! / shareSum) * productCount));
    const members: number[] = [];
    for (let i = 0; i < count; i++) {
      nextProductId += 1 + rng.int(40);
      // Leading brands dominate; a few products are unbranded, as in the real export.
      const brand = rng.chance(0.08) ? '' : spec.brands[Math.floor(spec.brands.length * rng.float() ** 1.6)]!;
      const price = Math.min(2000, Math.max(0.5, spec.median * Math.exp(0.75 * rng.normal())));
      members.push(products.length);
      products.push({ id: String(nextProductId), category: c, categoryId: id, code: spec.code, brand, price: price.toFixed(2) });
    }
    categories.push({ id, code: spec.code, products: members, popularity: popularity(rng, count, 1) });
  });
  return { products, categories, popularity: popularity(rng, categories.length, 0.8) };
}

// ---------------------------------------------------------------- users and sessions

interface PlannedEvent { t: number; type: EventType; product: number }

interface User {
  idx: number;
  userId: string;
  rng: Rng;
  favorites: number[];
  starts: number[]; // planned session starts (epoch s); a start is pushed back if the previous session runs late
  session: number;
  sessionId: string;
  events: PlannedEvent[] | null; // the open session, planned when its first event is due
  pos: number;
  next: number; // epoch s of this user's next event: the heap key
}

/**
 * v4-looking uuid whose 64 non-random bits are a Feistel permutation of (user, session),
 * so no two sessions can ever share an id whatever the seed or size.
 */
function sessionUuid(key: number, user: number, session: number, rng: Rng): string {
  let l = user >>> 0;
  let r = session >>> 0;
  for (let i = 1; i <= 4; i++) {
    const f = fmix32((r ^ key ^ Math.imul(i, 0x9e3779b9)) >>> 0);
    [l, r] = [r, (l ^ f) >>> 0];
  }
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  const fixed = hex(l) + hex(r);
  const rand = hex(rng.next()) + hex(rng.next());
  return `${fixed.slice(12, 16)}${rand.slice(0, 4)}-${rand.slice(4, 8)}-4${rand.slice(8, 11)}-${'89ab'[rng.int(4)]}${rand.slice(11, 14)}-${fixed.slice(0, 12)}`;
}

/** Mostly quick clicks; now and then the shopper wanders off for 10-25 minutes and comes back. */
function stepGap(rng: Rng): number {
  return rng.chance(0.025) ? 600 + rng.int(901) : 5 + Math.floor(295 * rng.float() ** 2);
}

/**
 * Strictly more than 30 minutes, so sessionisers with the usual 30-minute timeout split sessions
 * where we did; capped so a tail draw cannot push a user far beyond the requested span.
 */
function sessionGap(rng: Rng): number {
  return 1860 + Math.min(4 * 3600, Math.floor(-Math.log(1 - rng.float()) * 5400));
}

function planSession(catalog: Catalog, user: User, start: number): PlannedEvent[] {
  const { rng } = user;
  const events: PlannedEvent[] = [];
  const viewed: number[] = [];
  const cart: number[] = [];
  let t = start;
  let current = -1;
  let category = rng.chance(0.75) ? rng.pick(user.favorites) : rng.weighted(catalog.popularity);

  const emit = (type: EventType, product: number) => {
    if (events.length > 0) t += stepGap(rng);
    events.push({ t, type, product });
  };
  const browse = (views: number) => {
    for (let i = 0; i < views; i++) {
      if (events.length > 0 && rng.chance(0.12)) {
        category = rng.chance(0.5) ? rng.pick(user.favorites) : rng.weighted(catalog.popularity);
      }
      const seen = viewed.filter((p) => catalog.products[p]!.category === category);
      const cat = catalog.categories[category]!;
      current = seen.length > 0 && rng.chance(0.22) ? rng.pick(seen) : cat.products[rng.weighted(cat.popularity)]!;
      viewed.push(current);
      emit('view', current);
    }
  };
  const addToCart = () => { cart.push(current); emit('cart', current); };

  const intent = rng.float();
  if (intent < 0.55) {
    browse(1 + rng.count(5, 40));
  } else {
    const buying = intent >= 0.8;
    browse(1 + rng.count(3, 30));
    addToCart();
    if (rng.chance(0.35)) { browse(1 + rng.count(2, 20)); addToCart(); }
    // A buyer never empties the cart, so every buying session ends in a purchase.
    if (cart.length > 1 ? rng.chance(0.35) : !buying && rng.chance(0.2)) {
      emit('remove_from_cart', cart.splice(rng.int(cart.length), 1)[0]!);
    }
    if (rng.chance(0.4)) browse(1 + rng.count(2, 20));
    if (buying) for (const p of cart) emit('purchase', p);
  }
  return events;
}

function makeUser(seed: number, idx: number, catalog: Catalog, startSec: number, spanSec: number, meanSessions: number): User {
  const rng = new Rng(seed, idx + 1);
  // Uniform on 1..2·mean-1 keeps the mean at `sessionsPerUser`.
  const sessions = 1 + rng.int(Math.max(1, Math.round(2 * meanSessions - 1)));
  const starts = Array.from({ length: sessions }, () => startSec + rng.int(spanSec + 1)).sort((a, b) => a - b);
  const favorites = Array.from({ length: 1 + rng.int(3) }, () => rng.weighted(catalog.popularity));
  return {
    idx, rng, favorites, starts,
    userId: String(510_000_000 + idx * 7 + rng.int(7)),
    session: 0, sessionId: '', events: null, pos: 0, next: starts[0]!,
  };
}

// ---------------------------------------------------------------- merge

const before = (a: User, b: User) => a.next < b.next || (a.next === b.next && a.idx < b.idx);

function siftDown(heap: User[], i: number): void {
  const n = heap.length;
  const item = heap[i]!;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && before(heap[child + 1]!, heap[child]!)) child++;
    if (!before(heap[child]!, item)) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = item;
}

function checkOption(name: string, value: number, min: number, integer = false): void {
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new RangeError(`generateSample: ${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${value}`);
  }
}

export function* generateSample(opts: SampleOptions = {}): Generator<SampleRow> {
  const { seed = 1, users = 200, sessionsPerUser = 2, startTime = Date.UTC(2019, 10, 1), spanMs = 6 * 3600_000, maxSessionEvents = Infinity } = opts;
  checkOption('seed', seed, -Infinity);
  checkOption('users', users, 0, true);
  checkOption('sessionsPerUser', sessionsPerUser, 0);
  checkOption('startTime', startTime, 0);
  checkOption('spanMs', spanMs, 0);
  if (maxSessionEvents !== Infinity) checkOption('maxSessionEvents', maxSessionEvents, 1, true);

  // Fold the whole (possibly > 32-bit) seed into one word.
  const seedWord = ((Math.trunc(seed) >>> 0) ^ fmix32(Math.trunc(seed / 4294967296) >>> 0)) >>> 0;
  // The catalog grows slowly with traffic: ~300 products at 200 users, ~1900 at 100k.
  const catalog = buildCatalog(seedWord, Math.round(300 * Math.max(1, users / 200) ** 0.3));
  const startSec = Math.floor(startTime / 1000);
  const spanSec = Math.floor(spanMs / 1000);

  const heap: User[] = Array.from({ length: users }, (_, i) => makeUser(seedWord, i, catalog, startSec, spanSec, sessionsPerUser));
  for (let i = (heap.length >>> 1) - 1; i >= 0; i--) siftDown(heap, i);

  // Consecutive rows mostly share a second, so formatting once per distinct second is enough.
  let formattedSec = NaN;
  let formatted = '';

  while (heap.length > 0) {
    const user = heap[0]!;
    if (user.events === null) {
      user.events = planSession(catalog, user, user.next);
      if (user.events.length > maxSessionEvents) user.events.length = maxSessionEvents;
      user.sessionId = sessionUuid(seedWord, user.idx, user.session, user.rng);
      user.pos = 0;
    }
    const ev = user.events[user.pos++]!;
    if (ev.t !== formattedSec) {
      const iso = new Date(ev.t * 1000).toISOString();
      formatted = `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
      formattedSec = ev.t;
    }
    const p = catalog.products[ev.product]!;
    const row: SampleRow = {
      event_time: formatted, event_type: ev.type, product_id: p.id, category_id: p.categoryId,
      category_code: p.code, brand: p.brand, price: p.price, user_id: user.userId, user_session: user.sessionId,
    };

    // Advance before yielding so an abandoned iteration leaves nothing half-updated.
    if (user.pos < user.events.length) {
      user.next = user.events[user.pos]!.t;
    } else {
      user.events = null;
      user.session++;
      if (user.session < user.starts.length) {
        user.next = Math.max(user.starts[user.session]!, ev.t + sessionGap(user.rng));
      } else {
        const last = heap.pop()!;
        if (heap.length > 0) heap[0] = last;
      }
    }
    if (heap.length > 0) siftDown(heap, 0);
    yield row;
  }
}
