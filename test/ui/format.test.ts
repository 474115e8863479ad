import { describe, expect, it } from 'vitest';
import {
  clockTime,
  formatBudgetAmount,
  formatReason,
  formatTokens,
  formatUsage,
  formatUsd,
  palette,
  stripAnsi,
  truncate,
  visibleWidth,
} from '../../src/ui/format.js';
import { formatDuration } from '../../src/base/duration.js';
import { totalTokens } from '../../src/base/usage.js';
import { usage } from './fake-io.js';

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [450, '450ms'],
    [999.4, '999ms'],
    [999.6, '1.0s'],
    [1900, '1.9s'],
    [59_940, '59.9s'],
    [59_960, '1m00s'],
    [123_000, '2m03s'],
    [3_599_400, '59m59s'],
    [3_599_600, '1h00m'],
    [3_900_000, '1h05m'],
    [-5, '0ms'],
    [Number.NaN, '0ms'],
  ])('%s ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('formatTokens', () => {
  it.each([
    [0, '0'],
    [950, '950'],
    [1000, '1.0k'],
    [12_345, '12.3k'],
    [99_960, '100k'],
    [123_456, '123k'],
    [999_499, '999k'],
    [999_500, '1.0M'],
    [4_500_000, '4.5M'],
    [250_000_000, '250M'],
  ])('%s tokens is %s', (n, text) => {
    expect(formatTokens(n)).toBe(text);
  });
});

describe('formatUsd', () => {
  it.each([
    [0, '$0.00'],
    [0.0123, '$0.0123'],
    [0.00004, '$0.0000'],
    [0.99996, '$1.00'],
    [1.2, '$1.20'],
    [1234.5, '$1234.50'],
  ])('%s dollars is %s', (usd, text) => {
    expect(formatUsd(usd)).toBe(text);
  });
});

describe('usage, reasons and budgets', () => {
  it('counts every kind of token and prints nothing for none', () => {
    expect(totalTokens(usage(1000, 200, 50, 25))).toBe(1275);
    expect(formatUsage(usage(1000, 200, 50, 25), 0.0123)).toBe('1.3k tokens · $0.0123');
    expect(formatUsage(usage(0, 0), 0)).toBe('');
  });

  it('joins a reason and its message', () => {
    expect(formatReason('exit_code', 'exit code 1')).toBe('exit_code: exit code 1');
    expect(formatReason('if', undefined)).toBe('if');
    expect(formatReason(undefined, undefined)).toBe('');
  });

  it('prints a budget in its own unit', () => {
    expect(formatBudgetAmount('cost_usd', 1.5)).toBe('$1.50');
    expect(formatBudgetAmount('run.wall_time', 90_000)).toBe('1m30s');
    expect(formatBudgetAmount('tokens', 1_600_000)).toBe('1.6M');
  });
});

describe('clock, colour and width', () => {
  it('prints the time of an event', () => {
    expect(clockTime('2026-01-02T13:15:02.500Z', true)).toBe('13:15:02');
    expect(clockTime('not a time', true)).toBe('not a time');
  });

  it('colours only when enabled', () => {
    expect(palette(false).red('x')).toBe('x');
    expect(palette(true).red('x')).toBe('\u001b[31mx\u001b[39m');
    expect(stripAnsi(palette(true).bold(palette(true).green('ok')))).toBe('ok');
    expect(visibleWidth(palette(true).green('✓ ok'))).toBe(4);
  });

  it('counts code points as columns, as Array.from does', () => {
    for (const text of ['', 'abc', '😀', 'a😀b', '\ud800', '\ud800x', 'x\udc00', '\udc00\ud800', '😀\ud83d', 'é́']) {
      expect(visibleWidth(text), JSON.stringify(text)).toBe(Array.from(text).length);
    }
  });

  it('truncates with an ellipsis', () => {
    expect(truncate('abcdef', 10)).toBe('abcdef');
    expect(truncate('abcdef', 4)).toBe('abc…');
  });
});
