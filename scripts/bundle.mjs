// Bundles the compiled CLI into dist/bundle/ so that a start loads two files instead of a
// hundred-odd modules, and compiles little of them. Node 20 has no compile cache
// (module.enableCompileCache came in 22.1), and loading and compiling modules was most of a cold
// `factory validate`. bench/validate and bench/dag measure what this buys.
//
// - factory.js: main.ts alone, as CommonJS (dist/bundle/package.json says so, as bin/package.json
//   does for bin/factory.js): a start that needs no ES module never loads Node's ES module loader.
//   `--version` needs nothing else (the version is written into it here). For other arguments,
//   main.ts's `import('./program.js')` is answered by a dispatcher (below) that loads one of:
// - cmd-<name>.cjs: the program (commander) with only that command, in one self-contained
//   CommonJS file written inside the function Node wraps a module in (so that loading it makes no
//   copy of its text), loaded through a V8 code cache (src/cli/compile-cache.ts); cmd-all.cjs
//   likewise with every command registered, for the help, `help <command>` and a mistyped command.
// Each run of the CLI loads one cmd-* file, so copies of a module in several of them never meet.
// dist/bundle/ sits at the same depth as dist/cli/, so `new URL('../../schemas/', import.meta.url)`
// style references keep resolving to the package root.
//
// External packages (the SDKs, listr2, execa, chokidar, OpenTelemetry) stay out of the files and
// load when first used: `apply` compiled as ES module chunks took 50 ms a run, which the code
// cache saves. So the build checks that none of them is require()d as a file loads (only inside
// a module that loads on demand), and that the ES-module-only ones (execa, chokidar, the sandbox
// runtime), which require() cannot load on Node 20, are reached through import() alone.
//
// Every rewrite below is of a file that may move or change: each notes that it applied, and the
// build fails if one never did, rather than ship a start that quietly loads more than it should.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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

const cjs = {
  ...common,
  format: 'cjs',
  define: { 'import.meta.url': '__factoryImportMetaUrl' },
  banner: { js: "const __factoryImportMetaUrl = require('node:url').pathToFileURL(__filename).href; const __factoryImport = (specifier) => require('./import.cjs')(specifier);" },
};

/**
 * import() inside code V8 started from a code cache fails on Node 20 ("A dynamic import callback
 * was not specified": the cached functions lose the callback vm.Script was given). So the
 * cmd-*.cjs files import packages through import.cjs, a file Node's own loader compiles.
 */
const IMPORT_HELPER = "'use strict';\n// See scripts/bundle.mjs: import() for the cmd-*.cjs files, which V8 may start from a code cache.\nmodule.exports = (specifier) => import(specifier);\n";

function throughImportHelper(name, code) {
  const rewritten = code.replace(/\bimport\(("(?:node:[a-z_/]+|[@a-z][^"./][^"]*|[@a-z])")\)/g, (_, specifier) => {
    fired.add('import-helper');
    return `__factoryImport(${specifier})`;
  });
  // import("./<command>.js") of the other commands stay: only-command leaves them, never reached.
  const left = /\bimport\((?!"\.\/[a-z-]+\.js"\))/.exec(rewritten);
  if (left) throw new Error(`bundle: cmd-${name}.cjs has an import() the build does not route through import.cjs: …${rewritten.slice(left.index - 60, left.index + 60)}…`);
  return rewritten;
}

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

const hash = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

/** The external packages that are ES modules only: require() cannot load them on Node 20. */
const ESM_ONLY = EXTERNAL.filter((name) => {
  const pkg = JSON.parse(readFileSync(path.join('node_modules', name, 'package.json'), 'utf8'));
  const entry = pkg.exports?.['.'] ?? pkg.exports;
  return pkg.type === 'module' && !(entry && typeof entry === 'object' && 'require' in entry);
});

/**
 * esbuild writes a module's imports of an external package as a require() at the top of the
 * module's code: inside the function of a module loaded on demand (`__esm({...})`, which
 * import() of it calls), or at the top of the file, which runs at every start. The latter, and
 * any require() of an ES-module-only package, fail the build (see the head of this file).
 */
function checkExternals(name, code) {
  const required = (pkg) => new RegExp(`require\\("${pkg.replace(/[/.]/g, '\\$&')}(/[^"]*)?"\\)`);
  for (const pkg of ESM_ONLY) {
    if (required(pkg).test(code)) throw new Error(`bundle: cmd-${name}.cjs require()s ${pkg}, an ES module only package, which Node 20 cannot require: import() it where it is used`);
  }
  // The file's own top level: what is outside every __esm and __commonJS wrapper.
  const topLevel = code.replace(/__(esm|commonJS)\(\{[\s\S]*?\n?\}\}\);?/g, '');
  for (const pkg of EXTERNAL) {
    if (required(pkg).test(topLevel)) throw new Error(`bundle: cmd-${name}.cjs require()s ${pkg} as it loads, at every start: import it only from a module loaded on demand`);
  }
}

/** cmd-<name>.cjs, for one command or (name 'all') for all of them; returns [name, hash of the content]. */
async function buildCommonJS(name) {
  const result = await build({
    ...cjs,
    stdin: programEntry(name),
    outfile: `${OUT}/cmd-${name}.cjs`,
    write: false,
    plugins: [...(name === 'all' ? [] : [onlyCommand(name)]), bundledYaml, fdirWithoutPicomatch, lazyChildProcess],
  });
  let code;
  for (const file of result.outputFiles) {
    if (!file.path.endsWith('.cjs')) {
      writeFileSync(file.path, file.contents);
      continue;
    }
    const text = throughImportHelper(name, file.text);
    checkExternals(name, text);
    code = `${COMMONJS_WRAPPER.head}${text}${COMMONJS_WRAPPER.tail}`;
    writeFileSync(file.path, code);
  }
  return [name, hash(code)];
}

const commonJS = Object.fromEntries(await Promise.all([...NAMES, 'all'].map(buildCommonJS)));
writeFileSync(`${OUT}/import.cjs`, IMPORT_HELPER);

// factory.js: main.ts, with this dispatcher in place of program.js.
const dispatcher = `
import { compileCacheDir, loadCommonJS } from ${JSON.stringify(path.join(CLI, 'compile-cache.js'))};
/** The cmd-*.cjs files by the command they run ('all': every other case), with their content's hash. */
const COMMONJS = ${JSON.stringify(commonJS)};
/** Runs the program from the one cmd-* file these arguments need; see scripts/bundle.mjs. */
export async function runProgram(argv, io) {
  const first = argv.filter((a) => a !== '--debug')[0];
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

const expected = ['bundled-yaml', 'fdir-without-picomatch', 'lazy-child-process', 'dispatcher', 'inline-version', 'import-helper'];
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
