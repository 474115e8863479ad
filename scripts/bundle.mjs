// Bundles the compiled CLI into dist/bundle/ so that a start loads two or three files instead of
// a hundred-odd modules, and compiles little of them. Node 20 has no compile cache
// (module.enableCompileCache came in 22.1), and loading and compiling modules was most of a cold
// `factory validate`. bench/validate measures what this buys.
//
// - factory.js: main.ts alone, as CommonJS (dist/bundle/package.json says so, as bin/package.json
//   does for bin/factory.js): a start that needs no ES module never loads Node's ES module loader.
//   `--version` needs nothing else (the version is written into it here). For other arguments,
//   main.ts's `import('./program.js')` is answered by a dispatcher (below) that loads one of:
// - cmd-<name>.cjs: the program (commander) with only that command, in one self-contained
//   CommonJS file written inside the function Node wraps a module in (so that loading it makes no
//   copy of its text), loaded through a V8 code cache (src/cli/compile-cache.ts), for each command
//   whose code reaches no external package (validate, plan, graph, ...); cmd-all.cjs likewise
//   with every command registered, for the help, `help <command>` and a mistyped command;
// - cmd-<name>.mjs, ES modules split into chunks loaded on demand, for the commands that load
//   execa, listr2, the SDK or chokidar (apply): they stay lazy that way, where CommonJS would
//   require() them.
// Each run of the CLI loads one cmd-* file, so copies of a module in several of them never meet.
// dist/bundle/ sits at the same depth as dist/cli/, so `new URL('../../schemas/', import.meta.url)`
// style references keep resolving to the package root.
//
// Every rewrite below is of a file that may move or change: each notes that it applied, and the
// build fails if one never did, rather than ship a start that quietly loads more than it should.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { build } from 'esbuild';
import { commandLoaders } from '../dist/cli/registry.js';
import { COMMONJS_WRAPPER } from '../dist/cli/compile-cache.js';

const OUT = 'dist/bundle';
const CLI = path.resolve('dist/cli');
const EXTERNAL = ['execa', 'listr2', '@anthropic-ai/sdk', 'openai', 'chokidar', '@anthropic-ai/sandbox-runtime', '@opentelemetry/api', '@opentelemetry/sdk-trace-base', '@opentelemetry/exporter-trace-otlp-http', '@opentelemetry/exporter-trace-otlp-proto', '@opentelemetry/resources'];
const NAMES = [...commandLoaders.keys()];
/** The names of the rewrites (plugins) that applied at least once. */
const fired = new Set();
const VERSION = JSON.parse(readFileSync('package.json', 'utf8')).version;

// Chunk names carry content hashes: without this, every build would leave the previous ones behind.
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Less text to read and parse at each start; names are kept so a --debug stack stays readable.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: true,
  sourcesContent: false,
  logLevel: 'warning',
  external: EXTERNAL,
};

const esm = {
  ...common,
  format: 'esm',
  // Bundled CommonJS packages (commander) call require(), and so do the built-ins (see below).
  banner: { js: "import { createRequire as __factoryRequire } from 'node:module'; const require = __factoryRequire(import.meta.url);" },
};

const cjs = {
  ...common,
  format: 'cjs',
  define: { 'import.meta.url': '__factoryImportMetaUrl' },
  banner: { js: "const __factoryImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
};

/**
 * yaml-lazy.js requires `yaml` through createRequire, which a bundler cannot follow: made a plain
 * require('yaml'), the package goes into the bundle as one more lazily run module (esbuild wraps
 * CommonJS in a function called on first require), read with the command's code cache, instead of
 * the package's seventy files read, resolved and compiled from node_modules at each start.
 */
const bundledYaml = {
  name: 'bundled-yaml',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]config[\\/](?:.+[\\/])?yaml-lazy\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const contents = text.replace(/createRequire\(import\.meta\.url\)\('yaml'\)/, "require('yaml')");
      if (contents === text) throw new Error(`${args.path}: no createRequire(import.meta.url)('yaml') to bundle`);
      fired.add('bundled-yaml');
      return { contents, loader: 'js' };
    });
  },
};

/**
 * fdir requires picomatch from node_modules when it loads (five files), for a glob option
 * tinyglobby does not use: tinyglobby brings its own, bundled, picomatch.
 */
const fdirWithoutPicomatch = {
  name: 'fdir-without-picomatch',
  setup(b) {
    b.onLoad({ filter: /[\\/]fdir[\\/]dist[\\/]index\.mjs$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const contents = text.replace(/__require\.resolve\("picomatch"\);\s*pm = __require\("picomatch"\);/, '');
      if (contents === text) throw new Error(`${args.path} no longer requires picomatch as expected: see fdirWithoutPicomatch`);
      fired.add('fdir-without-picomatch');
      return { contents, loader: 'js' };
    });
  },
};

/**
 * commander requires node:child_process when it loads, for executable subcommands, which factory
 * does not have; loading that built-in (and net, streams, ... behind it) cost more than any one
 * module of `factory validate`. commander gets an object that requires it on first use instead.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) => (/[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'lazy-child-process' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => {
      fired.add('lazy-child-process');
      return { contents: "module.exports = { get spawn() { return require('node:child_process').spawn; } };", loader: 'js' };
    });
  },
};

/**
 * In ES module output, Node built-ins through require() rather than import: Node 20 builds a
 * module facade for each built-in imported, reading every export, and for node:fs that loads its
 * streams and promises (a tenth of a cold `factory validate`). require() hands the object over.
 */
const builtinsByRequire = {
  name: 'builtins-by-require',
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      if (!isBuiltin(name)) return undefined;
      // The require() in the module below is the real one.
      return args.namespace === 'builtin' ? { path: args.path, external: true } : { path: name, namespace: 'builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(`node:${args.path}`)});`, loader: 'js' }));
  },
};

/**
 * For cmd-<name>.cjs: registry.ts's loaders of the other commands stay unresolved imports. The
 * dispatcher sends this file only arguments naming <name>, for which loadCommands loads <name>
 * alone, so those imports are never reached.
 */
const onlyCommand = (name) => ({
  name: 'only-command',
  setup(b) {
    b.onResolve({ filter: /^\.\/[a-z-]+\.js$/ }, (args) => {
      if (args.importer !== path.join(CLI, 'registry.js') || args.kind !== 'dynamic-import') return undefined;
      const file = args.path.slice(2, -3);
      if (file === name || !NAMES.includes(file)) return undefined;
      return { path: args.path, external: true };
    });
  },
});

/** The entry of a cmd-* file: the program, which runs through registry.ts's loadCommands. */
const programEntry = (name) => ({ contents: "export { runProgram } from './program.js';\n", resolveDir: CLI, sourcefile: `cmd-${name}.js`, loader: 'js' });

const reachesExternal = (metafile) =>
  Object.values(metafile.outputs).some((o) => o.imports.some((i) => i.external && EXTERNAL.some((e) => i.path === e || i.path.startsWith(`${e}/`))));

const hash = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

/**
 * cmd-<name>.cjs, for one command or (name 'all') for all of them; returns [name, hash of the
 * content], or undefined when one command reaches an external package: as CommonJS those would
 * be require()d, so that command is built split, as ES modules, instead.
 */
async function buildCommonJS(name) {
  const result = await build({
    ...cjs,
    stdin: programEntry(name),
    outfile: `${OUT}/cmd-${name}.cjs`,
    write: false,
    metafile: true,
    plugins: [...(name === 'all' ? [] : [onlyCommand(name)]), bundledYaml, fdirWithoutPicomatch, lazyChildProcess],
  });
  // cmd-all.cjs registers apply but never runs it (the dispatcher sends apply elsewhere).
  if (name !== 'all' && reachesExternal(result.metafile)) return undefined;
  let code;
  for (const file of result.outputFiles) {
    if (!file.path.endsWith('.cjs')) writeFileSync(file.path, file.contents);
    else writeFileSync(file.path, (code = Buffer.concat([Buffer.from(COMMONJS_WRAPPER.head), file.contents, Buffer.from(COMMONJS_WRAPPER.tail)])));
  }
  return [name, hash(code)];
}

const built = (await Promise.all([...NAMES, 'all'].map(buildCommonJS))).filter(Boolean);
const commonJS = Object.fromEntries(built);
const split = NAMES.filter((n) => !(n in commonJS));

// cmd-<name>.mjs for the split commands, ES modules in chunks loaded on demand (.mjs: the folder
// is CommonJS, see the package.json written below).
await build({
  ...esm,
  entryPoints: split.map((name) => ({ in: `cmd:${name}`, out: `cmd-${name}` })),
  outdir: OUT,
  outExtension: { '.js': '.mjs' },
  splitting: true,
  plugins: [
    {
      name: 'cmd-entries',
      setup(b) {
        b.onResolve({ filter: /^cmd:/ }, (args) => ({ path: args.path, namespace: 'cmd' }));
        b.onLoad({ filter: /.*/, namespace: 'cmd' }, () => {
          const { contents, resolveDir, loader } = programEntry();
          return { contents, resolveDir, loader };
        });
      },
    },
    bundledYaml,
    fdirWithoutPicomatch,
    lazyChildProcess,
    builtinsByRequire,
  ],
});

// factory.js: main.ts, with this dispatcher in place of program.js.
const dispatcher = `
import { compileCacheDir, loadCommonJS } from ${JSON.stringify(path.join(CLI, 'compile-cache.js'))};
/** The cmd-*.cjs files by the command they run ('all': every other case), with their content's hash. */
const COMMONJS = ${JSON.stringify(commonJS)};
/** Commands built as ES modules (cmd-<name>.mjs). */
const SPLIT = new Map([${split.map((n) => `[${JSON.stringify(n)}, () => import(${JSON.stringify(`./cmd-${n}.mjs`)})]`).join(', ')}]);
/** Runs the program from the one cmd-* file these arguments need; see scripts/bundle.mjs. */
export async function runProgram(argv, io) {
  const first = argv.filter((a) => a !== '--debug')[0];
  const split = SPLIT.get(first);
  if (split) return (await split()).runProgram(argv, io);
  const which = first !== undefined && Object.hasOwn(COMMONJS, first) ? first : 'all';
  const name = \`cmd-\${which}\`;
  const loaded = loadCommonJS(require('node:path').join(__dirname, \`\${name}.cjs\`), { name, hash: COMMONJS[which] }, compileCacheDir(io.env));
  const code = await loaded.exports.runProgram(argv, io);
  loaded.save(code === 0);
  return code;
}
`;

/** version.js reads package.json at each start; the bundle has the version written in. */
const inlineVersion = {
  name: 'inline-version',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]cli[\\/]version\.js$/ }, () => {
      fired.add('inline-version');
      return { contents: `export const VERSION = ${JSON.stringify(VERSION)};`, loader: 'js' };
    });
  },
};

await build({
  ...cjs,
  entryPoints: { factory: 'dist/cli/main.js' },
  outdir: OUT,
  outExtension: { '.js': '.js' },
  plugins: [
    {
      name: 'dispatcher',
      setup(b) {
        b.onResolve({ filter: /^\.\/program\.js$/ }, (args) => (args.importer === path.join(CLI, 'main.js') ? { path: 'dispatcher', namespace: 'dispatcher' } : undefined));
        b.onResolve({ filter: /^\.\/cmd-/ }, (args) => ({ path: args.path, external: true }));
        b.onLoad({ filter: /.*/, namespace: 'dispatcher' }, () => {
          fired.add('dispatcher');
          return { contents: dispatcher, resolveDir: CLI, loader: 'js' };
        });
      },
    },
    inlineVersion,
  ],
});
writeFileSync(`${OUT}/package.json`, `${JSON.stringify({ type: 'commonjs' })}\n`);

const expected = ['bundled-yaml', 'fdir-without-picomatch', 'lazy-child-process', 'dispatcher', 'inline-version'];
const missed = expected.filter((name) => !fired.has(name));
if (missed.length > 0) throw new Error(`bundle: these rewrites never applied (a file moved or changed?): ${missed.join(', ')}`);

/**
 * A source read as UTF-8 with one non-ASCII character in it becomes two-byte text in V8: the whole
 * file decoded twice over and held at double size, a tenth of a cold `factory validate`. esbuild
 * escapes strings but leaves regular expression literals as written: write `\u0131` there.
 */
for (const name of readdirSync(OUT).filter((f) => /\.(c|m)?js$/.test(f))) {
  const bytes = readFileSync(path.join(OUT, name));
  const at = bytes.findIndex((b) => b > 0x7f);
  if (at >= 0) throw new Error(`bundle: ${name} has a non-ASCII character at byte ${at} (…${bytes.subarray(Math.max(0, at - 40), at + 8).toString()}…): escape it in its source`);
}
