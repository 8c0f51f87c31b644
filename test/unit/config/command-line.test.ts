import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitCommandLine } from '../../../src/config/command-line';

function argv(text: string): string[] {
  const result = splitCommandLine(text);
  assert.ok(result.ok, `${text}: ${result.ok ? '' : result.reason}`);
  return result.argv;
}

function refused(text: string): string {
  const result = splitCommandLine(text);
  assert.equal(result.ok, false, text);
  return result.ok ? '' : result.reason;
}

test('splits on blanks', () => {
  assert.deepEqual(argv('/usr/bin/xivo-service start'), ['/usr/bin/xivo-service', 'start']);
  assert.deepEqual(argv('  /bin/a \t b   c  '), ['/bin/a', 'b', 'c']);
  assert.deepEqual(argv(''), []);
  assert.deepEqual(argv('   '), []);
});

test('quotes keep blanks; pieces glued together form one argument', () => {
  assert.deepEqual(argv(`/bin/a "b c" 'd  e'`), ['/bin/a', 'b c', 'd  e']);
  assert.deepEqual(argv(`/bin/a --reason="fail over"x`), ['/bin/a', '--reason=fail overx']);
  assert.deepEqual(argv(`/bin/a '' ""`), ['/bin/a', '', '']);
  assert.deepEqual(argv(`/bin/a "it's" 'say "hi"'`), ['/bin/a', "it's", 'say "hi"']);
});

test('single quotes pass metacharacters literally; nothing is expanded', () => {
  assert.deepEqual(argv(`/bin/a '$HOME' '*.conf' 'a|b;c&d' '\\n' '\`x\`'`), [
    '/bin/a',
    '$HOME',
    '*.conf',
    'a|b;c&d',
    '\\n',
    '`x`',
  ]);
  assert.deepEqual(argv(`/bin/a "a|b;c&d<e>f*?()"`), ['/bin/a', 'a|b;c&d<e>f*?()']);
  assert.deepEqual(argv('/bin/a ~ x=1'), ['/bin/a', '~', 'x=1']);
});

test('shell metacharacters outside quotes are refused, saying no shell is used', () => {
  for (const [text, char] of [
    ['/bin/a | logger', '"|"'],
    ['/bin/a; /bin/b', '";"'],
    ['/bin/a && /bin/b', '"&"'],
    ['/bin/a $HOME', '"$"'],
    ['/bin/a `id`', 'backtick'],
    ['/bin/a > /tmp/x', '">"'],
    ['/bin/a < /tmp/x', '"<"'],
    ['/bin/a \\ b', '"\\"'],
    ['/bin/a *.conf', '"*"'],
    ['/bin/a (b)', '"("'],
    ['/bin/a ?', '"?"'],
  ] as const) {
    const reason = refused(text);
    assert.match(reason, /no shell is used/, text);
    assert.ok(reason.includes(char), `${text}: ${reason}`);
  }
  assert.match(refused('/bin/a | logger'), /at character 8 of the command/);
});

test('$, backtick and backslash are refused inside double quotes, where sh would expand them', () => {
  assert.match(refused('/bin/a "$HOME"'), /inside double quotes.*no shell is used.*single quotes/);
  assert.match(refused('/bin/a "`id`"'), /backtick/);
  assert.match(refused('/bin/a "a\\"b"'), /inside double quotes/);
});

test('an unterminated quote is refused', () => {
  assert.equal(refused('/bin/a "b c'), 'unterminated double quote opened at character 8 of the command');
  assert.equal(refused("/bin/a 'b"), 'unterminated single quote opened at character 8 of the command');
});
