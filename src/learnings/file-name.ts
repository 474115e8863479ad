/**
 * A learning's file name from its title: lower case, every run of characters other than
 * letters and digits turned into one `-`, at most 80 characters, `.md`. The name can never
 * hold a path separator, `..` or a control character; a title that leaves nothing usable, or
 * that holds control characters, is refused rather than given an invented name.
 */

export const MAX_TITLE_CHARS = 120;
const MAX_SLUG_CHARS = 80;
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f]/;

export type FileNamed = { ok: true; name: string } | { ok: false; message: string };

export function fileNameOf(title: string): FileNamed {
  if (CONTROL.test(title)) return { ok: false, message: `the title ${JSON.stringify(title)} holds control characters (a line break, NUL); write it on one line` };
  if (title.trim().length > MAX_TITLE_CHARS) return { ok: false, message: `the title ${JSON.stringify(title.slice(0, 40))}… is longer than ${MAX_TITLE_CHARS} characters; shorten it` };
  const slug = title
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, MAX_SLUG_CHARS)
    .replace(/^-+|-+$/g, '');
  if (slug === '') return { ok: false, message: `the title ${JSON.stringify(title)} would make an unsafe or empty file name (it needs letters or digits, a-z 0-9); give it a title in words` };
  return { ok: true, name: `${slug}.md` };
}

/** Titles compare without case and surrounding blanks: "Use X" and "use x " are one learning. */
export function titleKey(title: string): string {
  return title.trim().toLowerCase();
}
