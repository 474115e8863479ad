/**
 * Turning the model's command text into argv without a shell, and checking it against the
 * stage's allow-list. The tokenizer accepts a strict subset of sh word syntax whose meaning is
 * the same with or without a shell: plain words, '…' (literal) and "…" (with \" \\ escapes).
 * Anything a shell would interpret — ; | & $ ` > < ( ) { } [ ] * ? ! ~ #, backslashes and
 * line breaks outside quotes, $ and ` inside double quotes — is refused, never passed on.
 */

export type Tokenized = { ok: true; argv: string[] } | { ok: false; message: string };

const METACHARACTERS = new Set([';', '|', '&', '$', '`', '>', '<', '(', ')', '{', '}', '[', ']', '*', '?', '!', '~', '#', '\\']);

export function tokenize(command: string): Tokenized {
  const argv: string[] = [];
  let word: string | undefined;
  let i = 0;
  while (i < command.length) {
    const c = command[i]!;
    if (c === ' ' || c === '\t') {
      if (word !== undefined) argv.push(word);
      word = undefined;
      i++;
      continue;
    }
    if (c === '\n' || c === '\r') return refuse('a line break (run one command at a time)');
    if (c === '\0') return refuse('a NUL byte');
    if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end === -1) return refuse("an unterminated ' quote");
      word = (word ?? '') + command.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      let text = '';
      let j = i + 1;
      for (; j < command.length && command[j] !== '"'; j++) {
        const d = command[j]!;
        if (d === '$' || d === '`') return refuse(`"${d}" inside double quotes (a shell would expand it; use single quotes for literal text)`);
        if (d === '\0') return refuse('a NUL byte');
        if (d === '\\' && j + 1 < command.length && '"\\$`'.includes(command[j + 1]!)) {
          text += command[++j];
          continue;
        }
        text += d;
      }
      if (j >= command.length) return refuse('an unterminated " quote');
      word = (word ?? '') + text;
      i = j + 1;
      continue;
    }
    if (METACHARACTERS.has(c)) return refuse(`the shell character "${c}" outside quotes (commands run without a shell: no pipes, redirections, globs, variables or chaining)`);
    word = (word ?? '') + c;
    i++;
  }
  if (word !== undefined) argv.push(word);
  if (argv.length === 0) return { ok: false, message: 'the command is empty' };
  return { ok: true, argv };
}

function refuse(what: string): { ok: false; message: string } {
  return { ok: false, message: `refused: the command contains ${what}` };
}

export type AllowCheck = { ok: true } | { ok: false; message: string };

/** Whether argv is an allow-listed command: an entry's exact argv, or, for an entry ending in ` *`, its argv followed by any arguments. */
export function checkAllowed(argv: readonly string[], allow: readonly string[]): AllowCheck {
  for (const entry of allow) {
    const prefix = entry.endsWith(' *');
    const parsed = tokenize(prefix ? entry.slice(0, -2) : entry);
    if (!parsed.ok) continue; // an entry that needs a shell can never be run by run_command
    const want = parsed.argv;
    if (prefix ? argv.length < want.length : argv.length !== want.length) continue;
    if (want.every((w, k) => argv[k] === w)) return { ok: true };
  }
  const listed = allow.length === 0 ? 'none' : allow.map((a) => JSON.stringify(a)).join(', ');
  return { ok: false, message: `refused: this command is not in the stage's allow-list (allowed: ${listed})` };
}
