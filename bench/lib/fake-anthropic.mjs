// Loads test/support/fake-anthropic.ts (the fake Messages API the tests use) in plain Node:
// esbuild turns it into one ESM file in a temp folder, which is then imported.
import { tempDir } from './temp.mjs';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const source = fileURLToPath(new URL('../../test/support/fake-anthropic.ts', import.meta.url));

export async function loadFakeAnthropic() {
  const outfile = path.join(tempDir('factory-fake-'), 'fake-anthropic.mjs');
  await build({ entryPoints: [source], outfile, bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' });
  return import(pathToFileURL(outfile).href);
}
