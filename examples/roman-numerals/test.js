// The visible tests the generate stage is told about (it may not change them: `writes` is roman.js only).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';

if (!existsSync(new URL('./roman.js', import.meta.url))) {
  console.error('roman.js does not exist yet');
  process.exit(1);
}
const { toRoman } = await import('./roman.js');
const cases = { 1: 'I', 4: 'IV', 9: 'IX', 14: 'XIV', 40: 'XL', 90: 'XC', 400: 'CD', 1994: 'MCMXCIV', 2024: 'MMXXIV', 3999: 'MMMCMXCIX' };
for (const [n, roman] of Object.entries(cases)) assert.equal(toRoman(Number(n)), roman, `toRoman(${n})`);
console.log(`${Object.keys(cases).length} conversions ok`);
