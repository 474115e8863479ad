// Converts a positive integer to Roman numerals. Deliberately naive: no subtractive pairs yet.
const NUMERALS = [
  [1000, 'M'],
  [500, 'D'],
  [100, 'C'],
  [50, 'L'],
  [10, 'X'],
  [5, 'V'],
  [1, 'I'],
];

export function toRoman(n) {
  let out = '';
  for (const [value, symbol] of NUMERALS) {
    while (n >= value) {
      out += symbol;
      n -= value;
    }
  }
  return out;
}

if (process.argv[2] !== undefined) console.log(toRoman(Number(process.argv[2])));
