import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

/**
 * The parts of `yaml` that load.ts uses, loading the package on first call. A valid file is read
 * by js-yaml (quick-yaml.ts) and never needs `yaml`, whose loading was a sixth of a cold
 * `factory validate`; a file with a problem, anchors or tags loads it then.
 *
 * `require` because the readers are synchronous: yaml's Node build is CommonJS, the same code an
 * `import` of it gets. The bundle (scripts/bundle.mjs) points this one require at its own
 * single-file copy of yaml instead of the package's seventy files.
 */
let lib: typeof Yaml | undefined;
function yaml(): typeof Yaml {
  return (lib ??= createRequire(import.meta.url)('yaml') as typeof Yaml);
}

export type { Document } from 'yaml';
export type LineCounter = Yaml.LineCounter;

// A function that is called with `new` and returns an object gives that object.
export const LineCounter = function LineCounter() {
  return new (yaml().LineCounter)();
} as unknown as typeof Yaml.LineCounter;

export const parseDocument = ((...args: Parameters<typeof Yaml.parseDocument>) => yaml().parseDocument(...args)) as typeof Yaml.parseDocument;
export const parseAllDocuments = ((...args: Parameters<typeof Yaml.parseAllDocuments>) => yaml().parseAllDocuments(...args)) as typeof Yaml.parseAllDocuments;
export const isAlias = ((node: unknown) => yaml().isAlias(node)) as typeof Yaml.isAlias;
export const isCollection = ((node: unknown) => yaml().isCollection(node)) as typeof Yaml.isCollection;
export const isMap = ((node: unknown) => yaml().isMap(node)) as typeof Yaml.isMap;
export const isPair = ((node: unknown) => yaml().isPair(node)) as typeof Yaml.isPair;
export const isScalar = ((node: unknown) => yaml().isScalar(node)) as typeof Yaml.isScalar;
export const isSeq = ((node: unknown) => yaml().isSeq(node)) as typeof Yaml.isSeq;

const lazyVisit = ((...args: Parameters<typeof Yaml.visit>) => yaml().visit(...args)) as typeof Yaml.visit;
// visit.BREAK, SKIP and REMOVE are symbols of the loaded package, read only inside a visitor.
for (const key of ['BREAK', 'SKIP', 'REMOVE'] as const) {
  Object.defineProperty(lazyVisit, key, { get: () => yaml().visit[key] });
}
export const visit = lazyVisit;
