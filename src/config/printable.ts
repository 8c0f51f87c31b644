// Text from a file or a command line, made safe to print on a terminal or in the journal.
//
//   printable(text: string): string
//
// A section name, a key or a value of pbx-ha.conf is the file's text, not ours: an escape code in
// it (ESC, CSI, a carriage return, a bidirectional override) would move the cursor, rewrite what
// an administrator sees or hide a line. Every control character is shown as \xNN or \uNNNN
// instead, so a message is always one line of what the file holds. One helper for every message.

/** C0 controls, DEL, C1 controls, and the Unicode line, paragraph and bidirectional controls. */
const CONTROL = /[\0-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function printable(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
