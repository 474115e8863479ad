/**
 * The position index (src/config/load/positions.ts) places every node where `yaml`'s document
 * does: checked path by path, key and value, on every YAML file of the project (also with CRLF
 * and a byte-order mark) and on seeded mutations of them that both readers still take.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { YamlSource, type PathSegment } from '../../../src/config/load/load.js';
import { indexPositions, type NodeRange, type PathNodes } from '../../../src/config/load/positions.js';
import { quickYamlValue } from '../../../src/config/load/quick-yaml.js';
import { ROOT } from '../../support/cli.js';
import { yamlMutations } from '../../support/yaml-mutations.js';

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && /\.ya?ml$/.test(d.name))
    .map((d) => path.join(d.parentPath, d.name));
}

/** Every path of the document, with whether it ends at a key of a map. */
function paths(node: unknown, at: PathSegment[] = [], out: PathSegment[][] = []): PathSegment[][] {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isScalar(pair.key) || pair.key.value === null) continue;
      const next = [...at, String(pair.key.value)];
      out.push(next);
      paths(pair.value, next, out);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      out.push([...at, i]);
      paths(item, [...at, i], out);
    });
  }
  return out;
}

function comparable(nodes: PathNodes): PathNodes {
  const trim = (r: NodeRange | undefined) => (r && !r.scalar ? { ...r, end: -1 } : r);
  const key = trim(nodes.key);
  const value = trim(nodes.value);
  return { ...(key ? { key } : {}), ...(value ? { value } : {}), complete: nodes.complete };
}

/** Compares the index's answer with yaml's at every path and one past each; returns how many were compared. */
function samePositions(text: string): number {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false, strict: true, lineCounter });
  if (doc.errors.length > 0) return 0;
  const byYaml = new YamlSource(text, { doc, lineCounter });
  const byIndex = new YamlSource(text);
  if (!indexPositions(text)) return 0;
  let compared = 0;
  for (const at of [[], ...paths(doc.contents as YamlNode)]) {
    for (const p of [at, [...at, 'no-such-key']]) {
      const want = byYaml.nodesAt(p);
      // Where a map or a list ends counts for nothing: a position's length is a scalar's only.
      expect(comparable(byIndex.nodesAt(p)), `${JSON.stringify(p)} in:\n${text}`).toStrictEqual(comparable(want));
      if (want.value) expect(byIndex.linePos(want.value.start)).toStrictEqual(byYaml.linePos(want.value.start));
      compared++;
    }
  }
  return compared;
}

const FILES = ['examples', 'pipelines', 'test/fixtures', 'bench/inputs'].flatMap((d) => yamlFiles(path.join(ROOT, d))).map((f) => readFileSync(f, 'utf8'));

describe('the position index', () => {
  test('places every key and value of every YAML file of the project as yaml does (also with CRLF and a BOM)', () => {
    let compared = 0;
    for (const text of FILES) {
      for (const variant of [text, text.replace(/\n/g, '\r\n'), `\ufeff${text}`]) {
        if (quickYamlValue(variant) !== undefined) compared += samePositions(variant);
      }
    }
    expect(compared).toBeGreaterThan(2000);
  });

  test('and on seeded mutations both readers take', () => {
    const bits = ['  ', '\t', ':', ': ', '- ', '#', ' #c', '"', "'", '\n', '[', ']', '{', '}', ',', '&a ', '*a', '|', '>', '~', '\n#c\n', ' {a} ', '- - ', '-0', ' x: ', '\n  ', '\r', '\ufeff'];
    let compared = 0;
    for (const text of yamlMutations(FILES, { seed: 0x5eed, count: 1500, bits, insert: 0.5, cut: 0.8, crlf: 0.3 })) {
      if (quickYamlValue(text) !== undefined) compared += samePositions(text);
    }
    expect(compared).toBeGreaterThan(5000);
  });

  test('gives up where js-yaml cannot tell the nodes apart (a pair in a list), and yaml answers instead', () => {
    const text = 'needs: [a: 1, b]\nname: x\n';
    expect(quickYamlValue(text)).toBeDefined();
    expect(indexPositions(text)).toBeUndefined();
    expect(new YamlSource(text).nodesAt(['name'])).toMatchObject({ key: { start: 17 }, value: { start: 23, end: 24, scalar: true }, complete: true });
  });

  test('a path past the file ends at its nearest node; a key without a value gives the key', () => {
    const source = new YamlSource('a:\n  b: 1\nc: { d }\n');
    expect(source.nodesAt(['a', 'x', 'y'])).toMatchObject({ key: { start: 0 }, value: { start: 5 }, complete: false });
    expect(source.nodesAt(['c', 'd'])).toMatchObject({ key: { start: 15, end: 16 }, complete: true });
    expect(source.nodesAt(['c', 'd']).value).toBeUndefined();
  });
});
