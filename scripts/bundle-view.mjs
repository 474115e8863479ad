// Bundles the page of `factory view` (src/view/page/) into dist/view/: page.js (preact, htm,
// dagre, uPlot and the page's own code, minified, for the browsers of the last years) and
// page.css (uPlot's styles and the page's). The server sends these files as they are: the page
// needs nothing from a CDN or the network.
import { mkdirSync } from 'node:fs';
import { build } from 'esbuild';

const OUT = 'dist/view';
mkdirSync(OUT, { recursive: true });

await build({
  entryPoints: { page: 'src/view/page/main.ts', 'page-css': 'src/view/page/page.css' },
  outdir: OUT,
  entryNames: '[name]',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome110', 'firefox115', 'safari16'],
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});
// esbuild names a CSS entry after itself: one name for the server to ask for.
const { renameSync } = await import('node:fs');
renameSync(`${OUT}/page-css.css`, `${OUT}/page.css`);
