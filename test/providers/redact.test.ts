import { describe, expect, test } from 'vitest';
import { redactJson, redactSecrets } from '../../src/providers/redact.js';

describe('redactSecrets', () => {
  const env = {
    ANTHROPIC_API_KEY: 'sk-ant-api03-abcdef',
    GITHUB_TOKEN: 'ghp_1234567890',
    DB_PASSWORD: 'hunter22',
    my_secret: 'swordfish',
    SHORT_KEY: 'abc',
    FEATURE_TOKEN_ENABLED: 'true',
    HOME: '/home/me',
  };

  test('replaces values of KEY/TOKEN/SECRET/PASSWORD variables and anything shaped like an Anthropic key', () => {
    const text = 'key sk-ant-api03-abcdef, gh ghp_1234567890, db hunter22, s swordfish, other sk-ant-admin01-XYZ_9, home /home/me, abc, true';
    expect(redactSecrets(text, env)).toBe('key [redacted], gh [redacted], db [redacted], s [redacted], other [redacted], home /home/me, abc, true');
  });

  test('redactJson cleans every string of a value and returns a copy', () => {
    const value = { a: ['x hunter22 y', { b: 'ghp_1234567890' }], n: 3 };
    expect(redactJson(value, env)).toEqual({ a: ['x [redacted] y', { b: '[redacted]' }], n: 3 });
    expect(value.a[0]).toBe('x hunter22 y');
  });
});
