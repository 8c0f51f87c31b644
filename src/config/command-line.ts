// Turn a command written in pbx-ha.conf into an argv array. No shell ever runs it.
//
//   splitCommandLine(text: string): { ok: true; argv: string[] } | { ok: false; reason: string }
//
// Rules, chosen so that a command means the same here as it would in sh, or is refused:
// - arguments are separated by spaces or tabs;
// - 'single quotes' keep everything literally (as in sh);
// - "double quotes" keep spaces, but `$`, backtick and backslash are refused inside them, because sh
//   would expand them there and we do not; adjacent pieces join (`--x="a b"` is one argument);
// - outside quotes, the shell metacharacters | ; & $ ` \ < > ( ) * ? are refused: a pipe, a
//   redirection, a variable or a glob would silently mean something else without a shell;
// - an unterminated quote is refused.
// Nothing is expanded: no variables, no globbing, no `~`.

export type SplitResult = { ok: true; argv: string[] } | { ok: false; reason: string };

const NO_SHELL = 'pbx-ha runs commands directly, no shell is used';
const UNQUOTED_META = new Set(['|', ';', '&', '$', '`', '\\', '<', '>', '(', ')', '*', '?']);
const DOUBLE_QUOTED_META = new Set(['$', '`', '\\']);

export function splitCommandLine(text: string): SplitResult {
  const argv: string[] = [];
  let current = '';
  // An argument exists once any character or quote pair was seen, so `''` yields an empty argument.
  let inArgument = false;
  let quote: '"' | "'" | null = null;
  let quoteStart = 0;

  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== null) {
      if (c === quote) {
        quote = null;
      } else if (quote === '"' && DOUBLE_QUOTED_META.has(c)) {
        return {
          ok: false,
          reason: `${describe(c)} inside double quotes at character ${i + 1} of the command: ${NO_SHELL}, so it would not be expanded; use single quotes to pass it literally`,
        };
      } else {
        current += c;
      }
      continue;
    }
    if (c === ' ' || c === '\t') {
      if (inArgument) argv.push(current);
      current = '';
      inArgument = false;
    } else if (c === '"' || c === "'") {
      quote = c;
      quoteStart = i;
      inArgument = true;
    } else if (UNQUOTED_META.has(c)) {
      return {
        ok: false,
        reason: `shell metacharacter ${describe(c)} at character ${i + 1} of the command: ${NO_SHELL}; quote it to pass it literally, or put the shell logic in a script`,
      };
    } else {
      current += c;
      inArgument = true;
    }
  }
  if (quote !== null) {
    return {
      ok: false,
      reason: `unterminated ${quote === '"' ? 'double' : 'single'} quote opened at character ${quoteStart + 1} of the command`,
    };
  }
  if (inArgument) argv.push(current);
  return { ok: true, argv };
}

function describe(c: string): string {
  return c === '`' ? 'backtick (`)' : `"${c}"`;
}
