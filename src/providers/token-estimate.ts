import type { ModelRequest } from './types.js';

/**
 * A prompt's token count that does not undershoot, for the budget's reservation before a call
 * (docs/models-and-budgets.md). Characters ÷ 4 undershoots English by a few percent and Chinese or Japanese
 * by 70%; a byte-level tokenizer never makes more tokens than UTF-8 bytes, so each character is
 * counted at a rate at or above what tokenizers give its class: ASCII letters and digits ⅘ (random
 * hex and base64 run near ¾), ASCII punctuation 1, whitespace ½ (runs merge), other characters
 * their UTF-8 length up to 2 for the three-byte scripts (CJK runs near 1) and 4 for the rest.
 * It overestimates ordinary text about 2.5–3× — harmless for small prompts, since the surplus is
 * held only while the call runs; large prompts are counted by the provider instead.
 */
export function tokenUpperBound(text: string): number {
  let units = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 128) {
      if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) units += 4;
      else if (c === 32 || c === 9 || c === 10 || c === 13) units += 2.5;
      else units += 5;
    } else if (c < 0x800) {
      units += 10;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      // A surrogate pair: a four-byte character.
      units += 20;
      i++;
    } else {
      units += 10;
    }
  }
  return Math.ceil(units / 5);
}

/** Tokens a message list adds beyond its text (role markers, block boundaries), per block. */
const PER_BLOCK = 8;

/** The upper bound of a request's prompt: system, messages and tool definitions, as sent. */
export function requestTokenUpperBound(request: Pick<ModelRequest, 'system' | 'messages' | 'tools'>): number {
  let tokens = 0;
  let blocks = 0;
  const visit = (value: unknown): void => {
    if (typeof value === 'string') tokens += tokenUpperBound(value);
    else if (Array.isArray(value)) for (const v of value) visit(v);
    else if (value !== null && typeof value === 'object') {
      blocks++;
      for (const v of Object.values(value)) visit(v);
    }
  };
  visit(request.system ?? '');
  visit(request.messages);
  // Tool definitions go as JSON schemas: their keys count too.
  if (request.tools && request.tools.length > 0) tokens += tokenUpperBound(JSON.stringify(request.tools));
  return tokens + blocks * PER_BLOCK;
}

/** Share of characters outside ASCII: a prompt that is mostly another script is worth counting exactly. */
export function nonAsciiShare(text: string): number {
  if (text.length === 0) return 0;
  let non = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 128) non++;
  return non / text.length;
}
