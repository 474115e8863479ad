// Bundles the compiled CLI into dist/bundle/ so a start loads a few files instead of a
// hundred-odd modules (Node 20 has no compile cache; module loading was most of a cold
// `factory validate`). Heavy packages used only by `apply` stay external and load on demand.
// dist/bundle/ sits at the same depth as dist/cli/, so `new URL('../../schemas/', import.meta.url)`
// style references keep resolving to the package root.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunk names carry content hashes: without this, every build would leave the previous ones behind.
rmSync('dist/bundle', { recursive: true, force: true });

await build({
  entryPoints: { factory: 'dist/cli/main.js' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  external: ['execa', 'listr2', '@anthropic-ai/sdk', 'chokidar'],
  // Bundled CommonJS packages (commander) call require() for Node built-ins.
  banner: { js: "import { createRequire as __factoryRequire } from 'node:module'; const require = __factoryRequire(import.meta.url);" },
});
