import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ALL_CODES, CC_RULE, DEFAULT_CODES, EVERY_CODES, SelectionError,
  concurrencyFor, describeCodes, expandArgument, selectCodes,
} from '../functions/codes.ts';

test('lists have the sizes flags2 has', () => {
  assert.equal(ALL_CODES.length, 194);
  assert.equal(new Set(ALL_CODES).size, 194);
  assert.equal(EVERY_CODES.length, 676);
  assert.equal(EVERY_CODES[0], 'AA');
  assert.equal(EVERY_CODES.at(-1), 'ZZ');
  assert.equal(DEFAULT_CODES.length, 20);
  assert.ok(DEFAULT_CODES.every((c) => ALL_CODES.includes(c)));
});

test('a letter expands to its 26 codes, case-insensitively', () => {
  const b = expandArgument('b');
  assert.equal(b.length, 26);
  assert.equal(b[0], 'BA');
  assert.equal(b[25], 'BZ');
  assert.deepEqual(expandArgument('Z'), expandArgument('z'));
});

test('two letters are kept, upper-cased', () => {
  assert.deepEqual(expandArgument('br'), ['BR']);
  assert.deepEqual(expandArgument('Br'), ['BR']);
});

for (const bad of ['', 'ABC', '1', 'b1', 'é', 'ß', 'ﬀ', 'ı', 'br ', '../etc', 'http://x', 'ÇA', 'A-']) {
  test(`rejects ${JSON.stringify(bad)} with the flags2 message naming it`, () => {
    assert.throws(() => expandArgument(bad), (err: Error) => {
      assert.ok(err instanceof SelectionError);
      assert.ok(err.message.startsWith(CC_RULE), err.message);
      assert.ok(err.message.includes(JSON.stringify(bad)), err.message);
      return true;
    });
  });
}

test('no codes → the top 20, sorted', () => {
  const codes = selectCodes({});
  assert.deepEqual(codes, [...DEFAULT_CODES].sort());
  assert.equal(codes[0], 'BD');
});

test('codes are de-duplicated and sorted', () => {
  assert.deepEqual(selectCodes({ cc: ['us', 'BR', 'br', 'AR'] }), ['AR', 'BR', 'US']);
  assert.equal(selectCodes({ cc: ['b', 'ba', 'BZ'] }).length, 26);
});

test('every beats all beats codes', () => {
  assert.equal(selectCodes({ cc: ['br'], all: true }).length, 194);
  assert.equal(selectCodes({ cc: ['br'], all: true, every: true }).length, 676);
  assert.equal(selectCodes({ all: true, every: true }).length, 676);
});

test('bad codes are rejected even when every/all wins', () => {
  assert.throws(() => selectCodes({ cc: ['xyz'], every: true }), SelectionError);
});

test('limit applies after sorting, to defaults too', () => {
  assert.deepEqual(selectCodes({ every: true, limit: 3 }), ['AA', 'AB', 'AC']);
  assert.deepEqual(selectCodes({ limit: 2 }), [...DEFAULT_CODES].sort().slice(0, 2));
  assert.equal(selectCodes({ all: true, limit: 1000 }).length, 194);
  for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => selectCodes({ limit: bad }), /limit/);
});

test('concurrency is min(maxReq, 1000, codes)', () => {
  assert.equal(concurrencyFor(5, 20), 5);
  assert.equal(concurrencyFor(100, 20), 20);
  assert.equal(concurrencyFor(1000, 676), 676);
  assert.equal(concurrencyFor(1, 0), 1);
  for (const bad of [0, 1001, 2.5, -3]) assert.throws(() => concurrencyFor(bad, 10), /maxReq/);
});

test('describes up to 10 codes by name, more as a range', () => {
  assert.equal(describeCodes(['AR', 'BR']), 'AR, BR');
  assert.equal(describeCodes(EVERY_CODES), 'from AA to ZZ');
});
