import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { splitCsvLine, rees46RowToEvent, readRees46Csv, REES46_COLUMNS, type CsvRow } from '../src/events/rees46-csv.js';
import { eventSchema, describeIssues } from '../src/events/schema.js';
import { SHARED_SAMPLE } from './support/shared-sample.js';

const HEADER = REES46_COLUMNS.join(',');
const ROW_1 = '2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde-8bb3-4e00-8c23-a032dfed738c';
const ROW_2 = '2019-10-01 00:00:01 UTC,cart,3900821,2053013552326770905,appliances.environment.water_heater,aqua,33.20,554748717,9333dfbd-b87a-4708-9857-6336556b0fcc';
const CUT = '2019-10-01 00:00:02 UTC,view,17200506,2053013559792632471,furniture.living_room.sofa,,543.';

const SAMPLE = SHARED_SAMPLE;

const dir = mkdtempSync(join(tmpdir(), 'nudge-csv-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function readAll(path: string): Promise<CsvRow[]> {
  const rows: CsvRow[] = [];
  for await (const r of readRees46Csv(path)) rows.push(r);
  return rows;
}

describe('splitCsvLine', () => {
  test('plain lines split on commas, keeping empty fields', () => {
    assert.deepEqual(splitCsvLine('a,b,,d,'), ['a', 'b', '', 'd', '']);
    assert.deepEqual(splitCsvLine(''), ['']);
  });

  test('quoted fields may hold commas', () => {
    assert.deepEqual(splitCsvLine('a,"b,c",d'), ['a', 'b,c', 'd']);
    assert.deepEqual(splitCsvLine('"",x'), ['', 'x']);
  });

  test('doubled quotes inside a quoted field are one quote', () => {
    assert.deepEqual(splitCsvLine('"say ""hi""",2'), ['say "hi"', '2']);
    assert.deepEqual(splitCsvLine('""""'), ['"']);
  });

  test('an unterminated quote gives null', () => {
    assert.equal(splitCsvLine('a,"b,c'), null);
    assert.equal(splitCsvLine('"'), null);
    assert.equal(splitCsvLine('a,"b""'), null);
  });
});

describe('rees46RowToEvent', () => {
  const header = [...REES46_COLUMNS];

  test('a full row becomes an event in our contract', () => {
    const e = rees46RowToEvent(splitCsvLine(ROW_2)!, header);
    assert.notEqual(typeof e, 'string');
    assert.deepEqual(e, {
      eventTime: '2019-10-01 00:00:01 UTC',
      eventType: 'cart',
      productId: '3900821',
      categoryId: '2053013552326770905',
      categoryCode: 'appliances.environment.water_heater',
      brand: 'aqua',
      price: 33.2,
      userId: '554748717',
      userSession: '9333dfbd-b87a-4708-9857-6336556b0fcc',
    });
  });

  test('a short row is an error mentioning "cut off"', () => {
    const e = rees46RowToEvent(splitCsvLine(CUT)!, header);
    assert.equal(typeof e, 'string');
    assert.match(e as string, /cut off/);
    assert.match(e as string, /expected 9 fields, got 7/);
  });

  test('a long row is an error too, without the cut-off hint', () => {
    const e = rees46RowToEvent(splitCsvLine(ROW_1 + ',extra')!, header);
    assert.equal(typeof e, 'string');
    assert.doesNotMatch(e as string, /cut off/);
  });

  test('a non-numeric or empty price is an error naming the value', () => {
    for (const price of ['abc', '', '12,5', 'NaN', 'Infinity']) {
      const fields = splitCsvLine(ROW_1)!;
      fields[header.indexOf('price')] = price;
      const e = rees46RowToEvent(fields, header);
      assert.equal(typeof e, 'string', `price ${JSON.stringify(price)}`);
      assert.match(e as string, /price/);
    }
  });

  test('empty brand is omitted, empty category_code kept as ""', () => {
    const fields = splitCsvLine(ROW_1)!;
    fields[header.indexOf('brand')] = '';
    const e = rees46RowToEvent(fields, header);
    assert.ok(typeof e !== 'string');
    assert.equal('brand' in e, false);
    assert.equal(e.categoryCode, '');
    assert.ok(eventSchema.safeParse(e).success);
  });

  test('empty category_id and user_session are omitted', () => {
    const fields = splitCsvLine(ROW_1)!;
    fields[header.indexOf('category_id')] = '';
    fields[header.indexOf('user_session')] = '';
    const e = rees46RowToEvent(fields, header);
    assert.ok(typeof e !== 'string');
    assert.equal('categoryId' in e, false);
    assert.equal('userSession' in e, false);
  });

  test('columns are found by header name, not position', () => {
    const shuffled = [...header].reverse();
    const fields = [...splitCsvLine(ROW_2)!].reverse();
    assert.deepEqual(rees46RowToEvent(fields, shuffled), rees46RowToEvent(splitCsvLine(ROW_2)!, header));
  });
});

describe('readRees46Csv', () => {
  test('good rows come out ok, a cut-off last line (no newline) as an error with its line number', async () => {
    const path = join(dir, 'cut.csv');
    writeFileSync(path, `${HEADER}\n${ROW_1}\n${ROW_2}\n${CUT}`);
    const rows = await readAll(path);
    assert.equal(rows.length, 3);
    const [a, b, c] = rows;
    assert.ok(a?.ok && b?.ok);
    assert.equal(a.line, 2);
    assert.equal(b.line, 3);
    assert.equal(a.event.userId, '541312140');
    assert.equal(b.event.eventType, 'cart');
    assert.ok(c && !c.ok);
    assert.equal(c.line, 4);
    assert.equal(c.raw, CUT);
    assert.match(c.reason, /^line 4: /);
    assert.match(c.reason, /cut off/);
  });

  test('CRLF line ends, blank lines and a quoted field are handled', async () => {
    const path = join(dir, 'crlf.csv');
    const quoted = ROW_1.replace(',shiseido,', ',"shi,seido",');
    writeFileSync(path, `${HEADER}\r\n${quoted}\r\n\r\n${ROW_2}\r\n`);
    const rows = await readAll(path);
    assert.equal(rows.length, 2);
    assert.ok(rows[0]?.ok && rows[1]?.ok);
    assert.equal(rows[0].event.brand, 'shi,seido');
    assert.equal(rows[1].line, 4);
    assert.equal(rows[1].event.userSession, '9333dfbd-b87a-4708-9857-6336556b0fcc');
  });

  test('an unterminated quote is an error row, not a throw', async () => {
    const path = join(dir, 'quote.csv');
    writeFileSync(path, `${HEADER}\n${ROW_1.replace(',shiseido,', ',"shiseido,')}\n${ROW_2}\n`);
    const rows = await readAll(path);
    assert.equal(rows.length, 2);
    assert.ok(rows[0] && !rows[0].ok);
    assert.match(rows[0].reason, /line 2: unterminated quote/);
    assert.ok(rows[1]?.ok);
  });

  test('a file that is not REES46 is refused at the header', async () => {
    const path = join(dir, 'other.csv');
    writeFileSync(path, 'a,b,c\n1,2,3\n');
    await assert.rejects(readAll(path), /not a REES46 CSV.*event_time/);
  });

  test('the shared 2019-Oct sample: 17434 ok rows, one cut-off last line, all valid events', { skip: !existsSync(SAMPLE) && `missing ${SAMPLE}` }, async () => {
    const rows = await readAll(SAMPLE);
    const ok = rows.filter((r) => r.ok);
    const errors = rows.filter((r) => !r.ok);
    assert.equal(ok.length, 17434);
    assert.equal(errors.length, 1);
    const err = errors[0]!;
    assert.ok(!err.ok);
    assert.equal(err, rows.at(-1), 'the error is the last row');
    assert.equal(err.line, 17436);
    assert.match(err.reason, /cut off/);
    let lastLine = 1;
    for (const r of ok) {
      assert.ok(r.ok);
      assert.ok(r.line > lastLine);
      lastLine = r.line;
      const parsed = eventSchema.safeParse(r.event);
      assert.ok(parsed.success, `line ${r.line}: ${parsed.success ? '' : describeIssues(parsed.error)}`);
    }
  });
});
