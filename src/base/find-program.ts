import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

/** Where `name` runs from: itself when it holds a slash, else the first executable file of that name on PATH. */
export function findProgram(name: string, pathVar: string | undefined, cwd: string = process.cwd()): string | undefined {
  const candidates = name.includes('/') ? [path.resolve(cwd, name)] : (pathVar ?? '').split(path.delimiter).filter((d) => d !== '').map((d) => path.join(d, name));
  return candidates.find(isExecutableFile);
}

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
