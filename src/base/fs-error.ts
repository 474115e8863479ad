/** A file-system failure as one line a user can act on. */
export function describeFsError(err: unknown, target: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on device',
    EDQUOT: 'disk quota exceeded',
    ENOTDIR: 'a path component is not a directory',
    EISDIR: 'it is a directory',
    ENOENT: 'no such file or directory',
    EMFILE: 'too many open files',
  };
  const reason = (code && why[code]) ?? (err instanceof Error ? err.message : String(err));
  return `${target}: ${reason}${code && why[code] ? ` (${code})` : ''}`;
}
