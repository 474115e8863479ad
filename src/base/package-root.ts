import { fileURLToPath } from 'node:url';

/**
 * The package's own folder (where schemas/, pipelines/ and package.json live). This module sits
 * two folders below it in src/, in dist/ and in dist/bundle/ alike, which is why every file that
 * needs the package's files asks here rather than counting `../` from where it happens to be.
 */
export const PACKAGE_ROOT_URL = new URL('../../', import.meta.url);

export function packageFile(relative: string): string {
  return fileURLToPath(new URL(relative, PACKAGE_ROOT_URL));
}
