import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const out = process.env.OUT_DIR || 'dist';
const { gcd, lcm } = await import(pathToFileURL(path.resolve(out, 'index.js')).href);

test('gcd', () => {
  assert.equal(gcd(12, 18), 6);
  assert.equal(gcd(-4, 6), 2);
  assert.equal(gcd(7, 0), 7);
});

test('lcm', () => {
  assert.equal(lcm(4, 6), 12);
  assert.equal(lcm(0, 5), 0);
});

test('the build lists what it built', () => {
  const built = JSON.parse(process.env.BUILT_FILES ?? '[]');
  assert.ok(built.includes(path.join(out, 'index.js')));
});
