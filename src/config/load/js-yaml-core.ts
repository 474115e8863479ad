import * as jsYaml from 'js-yaml';
import { FAILSAFE_SCHEMA, Type } from 'js-yaml';

/**
 * js-yaml set up to read as `yaml` does, for the quick reader (quick-yaml.ts) and the position
 * index (positions.ts): the YAML 1.2 core schema with yaml's own rules for numbers, and where a
 * node's text starts relative to the event js-yaml gives for it.
 */

// js-yaml 4 exports its types, which @types/js-yaml 4.0.9 does not declare.
const { types } = jsYaml as unknown as { types: { null: Type; bool: Type } };

// yaml's core schema (yaml/dist/schema/core/{int,float}.js), test for test.
const INT_DEC = /^[-+]?[0-9]+$/;
const INT_OCT = /^0o[0-7]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_SPECIAL = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

/** Every number starts with a digit, a sign or a dot: most plain scalars are ruled out at once. */
function mayBeNumber(s: string): boolean {
  const c = s.charCodeAt(0);
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e;
}

const INT = new Type('tag:yaml.org,2002:int', {
  kind: 'scalar',
  resolve: (s: string) => mayBeNumber(s) && (INT_DEC.test(s) || INT_OCT.test(s) || INT_HEX.test(s)),
  construct: (s: string) => (INT_OCT.test(s) ? parseInt(s.slice(2), 8) : INT_HEX.test(s) ? parseInt(s.slice(2), 16) : parseInt(s, 10)),
});
const FLOAT_TYPE = new Type('tag:yaml.org,2002:float', {
  kind: 'scalar',
  resolve: (s: string) => mayBeNumber(s) && (FLOAT_SPECIAL.test(s) || FLOAT_EXP.test(s) || FLOAT.test(s)),
  construct: (s: string) => {
    if (!FLOAT_SPECIAL.test(s)) return parseFloat(s);
    if (s.slice(-3).toLowerCase() === 'nan') return NaN;
    return s.startsWith('-') ? -Infinity : Infinity;
  },
});
// The order of yaml's core schema: null, bool, then int before float.
export const QUICK_SCHEMA = FAILSAFE_SCHEMA.extend({ implicit: [types.null, types.bool, INT, FLOAT_TYPE] });

export function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** Past the spaces and tabs at `from`, on the same line. */
export function skipBlanks(text: string, from: number): number {
  let i = from;
  while (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09) i++;
  return i;
}

/** Whether a `:` follows `at`, past spaces and tabs: what makes the node before it a key. */
export function followedByColon(text: string, at: number): boolean {
  return text.charCodeAt(skipBlanks(text, at)) === 0x3a;
}

/** Where a node's own text starts: past the spaces, line breaks, comments and anchor js-yaml's event comes before. */
export function contentStart(text: string, from: number, end: number): number {
  let i = from;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) i++;
    else if (c === 0x23) {
      const eol = text.indexOf('\n', i);
      i = eol === -1 ? end : eol;
    } else if (c === 0x26) {
      while (i < end && !isSpace(text.charCodeAt(i))) i++;
    } else break;
  }
  return i;
}
