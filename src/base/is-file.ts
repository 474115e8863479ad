import { statSync } from 'node:fs';

/** Whether `file` is a regular file (a link is followed); false when it is missing or unreadable. */
export function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
