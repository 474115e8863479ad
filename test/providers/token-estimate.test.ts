import { countTokens } from '@anthropic-ai/tokenizer';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { nonAsciiShare, requestTokenUpperBound, tokenUpperBound } from '../../src/providers/token-estimate.js';

// Claude's published tokenizer (an older vocabulary) as the reference count: the bound must never be under it.
const samples: Record<string, string> = {
  english: readFileSync(new URL('../../README.md', import.meta.url), 'utf8'),
  code: readFileSync(new URL('../../src/engine/budget/budget.ts', import.meta.url), 'utf8'),
  json: readFileSync(new URL('../../schemas/factory.schema.json', import.meta.url), 'utf8'),
  chinese: '人工智能是计算机科学的一个分支，它企图了解智能的实质，并生产出一种新的能以人类智能相似的方式做出反应的智能机器。'.repeat(40),
  japanese: '日本語のテキストです。これは予算の見積もりが少なすぎないことを確かめるための文章です。'.repeat(40),
  korean: '한국어 문장도 있습니다. 예산 추정이 너무 적지 않은지 확인합니다.'.repeat(40),
  cyrillic: 'Бюджет никогда не должен быть превышен из-за оценки токенов. '.repeat(40),
  emoji: '🚀🔥✨👍🏽🎉 ok '.repeat(100),
  punctuation: '{}[]()<>;:,.!?@#$%^&*-_=+|\\/~`"\''.repeat(60),
  hex: Array.from({ length: 4000 }, (_, i) => ((i * 2654435761) >>> 28).toString(16)).join(''),
  base64: Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) % 256)).toString('base64'),
  whitespace: ' \n\t  \n    '.repeat(200),
};

describe('tokenUpperBound', () => {
  for (const [name, text] of Object.entries(samples)) {
    test(`never undershoots the tokenizer: ${name}`, () => {
      expect(tokenUpperBound(text)).toBeGreaterThanOrEqual(countTokens(text));
    });
  }

  test('a request counts its system, messages and tools', () => {
    const bare = requestTokenUpperBound({ messages: [{ role: 'user', content: 'hello' }] });
    const full = requestTokenUpperBound({ system: 'be brief', messages: [{ role: 'user', content: 'hello' }], tools: [{ name: 'read_file', input_schema: { type: 'object' } }] });
    expect(full).toBeGreaterThan(bare);
    expect(bare).toBeGreaterThanOrEqual(countTokens('hello'));
  });

  test('nonAsciiShare tells a prompt mostly in another script', () => {
    expect(nonAsciiShare(samples.chinese!)).toBeGreaterThan(0.9);
    expect(nonAsciiShare(samples.code!)).toBeLessThan(0.01);
    expect(nonAsciiShare('')).toBe(0);
  });
});
