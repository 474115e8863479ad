// Bundles the page of `factory view` (src/view/page/) into dist/page/ (dist/view/ holds the
// server, compiled by tsc): page.js (preact, htm, dagre, uPlot and the page's own code, minified,
// for the browsers of the last years) and page.css (uPlot's styles and the page's). One file, not
// chunks loaded on demand: a chunk's import could not carry the server's token, which every
// request must. The server sends these files as they are: the page needs nothing from a CDN or
// the network.
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const OUT = 'dist/page';
rmSync(OUT, { recursive: true, force: true });
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
renameSync(`${OUT}/page-css.css`, `${OUT}/page.css`);
