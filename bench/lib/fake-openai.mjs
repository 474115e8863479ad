// Loads test/support/fake-openai.ts (the fake OpenAI API the tests use) in plain Node, as
// fake-anthropic.mjs does for the Messages API.
import { tempDir } from './temp.mjs';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const source = fileURLToPath(new URL('../../test/support/fake-openai.ts', import.meta.url));

export async function loadFakeOpenAI() {
  const outfile = path.join(tempDir('factory-fake-'), 'fake-openai.mjs');
  await build({ entryPoints: [source], outfile, bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' });
  return import(pathToFileURL(outfile).href);
}
