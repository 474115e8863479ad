import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { packageFile } from '../../base/package-root.js';
import { nearest } from '../suggest.js';
import { isFile } from '../../base/is-file.js';

/**
 * Where a template ref (docs/templates.md) points: `./relative/path.yaml`, `npm:<package>/<name>`
 * (the file pipelines/<name>.yaml of that package, found the way Node finds packages: in
 * node_modules folders from the referring file's folder up) or `builtin:<name>` (this package's
 * own pipelines/). When it cannot be found, the answer says where it looked and what is there.
 */
export type RefResult = { ok: true; absPath: string } | { ok: false; message: string; hint?: string };

export const BUILTIN_DIR = packageFile('pipelines/');

export function builtinNames(): string[] {
  return yamlNames(BUILTIN_DIR);
}

function yamlNames(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).map((f) => f.replace(/\.ya?ml$/, '')).sort();
  } catch {
    return [];
  }
}

function missingIn(dir: string, name: string, what: string): RefResult {
  const names = yamlNames(dir);
  const near = nearest(name, names);
  return {
    ok: false,
    message: `cannot find ${what}: looked for ${path.join(dir, `${name}.yaml`)}${near ? ` (did you mean "${near}"?)` : ''}`,
    hint: names.length ? `templates there: ${names.join(', ')}` : 'that folder holds no templates',
  };
}

export function resolveTemplateRef(ref: string, fromFile: string): RefResult {
  if (ref.startsWith('builtin:')) {
    const name = ref.slice('builtin:'.length);
    const file = path.join(BUILTIN_DIR, `${name}.yaml`);
    return isFile(file) ? { ok: true, absPath: file } : missingIn(BUILTIN_DIR, name, `the built-in template "${name}"`);
  }
  if (ref.startsWith('npm:')) return resolveNpm(ref.slice('npm:'.length), fromFile);
  const file = path.resolve(path.dirname(fromFile), ref);
  if (isFile(file)) return { ok: true, absPath: file };
  if (isFile(path.join(file, 'factory.yaml'))) return { ok: true, absPath: path.join(file, 'factory.yaml') };
  const dir = path.dirname(file);
  const names = existsSync(dir) ? yamlNames(dir) : [];
  return {
    ok: false,
    message: `cannot find the template "${ref}": no file ${file}`,
    hint: names.length ? `YAML files in ${dir}: ${names.map((n) => `${n}.yaml`).join(', ')}` : 'a relative ref is resolved from the folder of the file that names it',
  };
}

/** `@scope/pkg/name` or `pkg/name` → the package and the template name. */
function splitPackage(spec: string): { pkg: string; name: string } | undefined {
  const parts = spec.split('/');
  const scoped = spec.startsWith('@');
  const pkgParts = scoped ? 2 : 1;
  if (parts.length <= pkgParts || parts.slice(pkgParts).some((p) => p === '' || p === '..')) return undefined;
  return { pkg: parts.slice(0, pkgParts).join('/'), name: parts.slice(pkgParts).join('/') };
}

function resolveNpm(spec: string, fromFile: string): RefResult {
  const split = splitPackage(spec);
  if (!split) {
    return { ok: false, message: `"npm:${spec}" is not a package template ref`, hint: 'write `npm:<package>/<name>`, e.g. `npm:@acme/factory-templates/spec-to-code`' };
  }
  const looked: string[] = [];
  for (let dir = path.dirname(fromFile); ; dir = path.dirname(dir)) {
    const pkgDir = path.join(dir, 'node_modules', split.pkg);
    looked.push(pkgDir);
    if (isFile(path.join(pkgDir, 'package.json'))) {
      const file = path.join(pkgDir, 'pipelines', `${split.name}.yaml`);
      return isFile(file) ? { ok: true, absPath: file } : missingIn(path.join(pkgDir, 'pipelines'), split.name, `the template "${split.name}" in package ${split.pkg}`);
    }
    if (path.dirname(dir) === dir) break;
  }
  return {
    ok: false,
    message: `cannot find the package ${split.pkg} for "npm:${spec}": looked in ${looked.slice(0, 3).join(', ')}${looked.length > 3 ? ` and ${looked.length - 3} folders above` : ''}`,
    hint: `install it (\`npm install -D ${split.pkg}\`) in the repository that holds the factory file`,
  };
}
