import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter, MAX_EVENT_LINE, parseEventLine } from '../../../src/domain/spool-events';

const ROOTS = ['/var/spool/asterisk/voicemail', '/var/spool/asterisk/monitor'];

test('an event line names the spool root it lies under, never more than that', () => {
  assert.deepEqual(
    parseEventLine('CLOSE_WRITE,CLOSE /var/spool/asterisk/voicemail/default/1001/INBOX/msg0000.wav', ROOTS),
    {
      kind: 'change',
      root: '/var/spool/asterisk/voicemail',
    },
  );
  assert.deepEqual(parseEventLine('MOVED_TO /var/spool/asterisk/monitor/a b.wav', ROOTS), {
    kind: 'change',
    root: '/var/spool/asterisk/monitor',
  });
  assert.deepEqual(parseEventLine('DELETE,ISDIR /var/spool/asterisk/voicemail', ROOTS), {
    kind: 'change',
    root: '/var/spool/asterisk/voicemail',
  });
  assert.deepEqual(parseEventLine('Q_OVERFLOW ', ROOTS), { kind: 'overflow' });
  assert.deepEqual(parseEventLine('Q_OVERFLOW', ROOTS), { kind: 'overflow' });
});

test('lines that are not events under the roots are ignored, saying why', () => {
  const cases: [string, RegExp][] = [
    ['CREATE /var/spool/asterisk/voicemail2/x', /outside the spool roots/],
    ['CREATE /var/spool/asterisk/voicemail/../../../etc/shadow', /"\.\."/],
    ['CREATE /var/spool/asterisk/voicemail/./x', /"\."/],
    ['CREATE relative/path', /not an absolute path/],
    ['CREATE /var/spool/asterisk/voicemail/a\0b', /not an absolute path/],
    ['tail of a name with a newline /var/spool/asterisk/voicemail/x', /not an inotifywait event line/],
    ['', /not an inotifywait event line/],
    ['CREATE /etc/passwd', /outside the spool roots/],
    [`CREATE /var/spool/asterisk/voicemail/${'x'.repeat(MAX_EVENT_LINE)}`, /longer than/],
  ];
  for (const [line, why] of cases) {
    const e = parseEventLine(line, ROOTS);
    assert.equal(e.kind, 'ignored', line.slice(0, 80));
    assert.match((e as { why: string }).why, why, line.slice(0, 80));
  }
});

test('the line splitter hands whole lines on, across chunks, and drops an overlong one whole', () => {
  const lines: string[] = [];
  let overlong = 0;
  const s = new LineSplitter(
    (l) => lines.push(l),
    () => overlong++,
    12,
  );
  s.push('CREATE /a');
  s.push('\nDELETE /b\nMOV');
  s.push('ED_TO /c\n');
  assert.deepEqual(lines, ['CREATE /a', 'DELETE /b', 'MOVED_TO /c']);
  s.push('0123456789ABCDEF');
  s.push('more of the same');
  s.push(' line\nCREATE /d\n');
  assert.equal(overlong, 1);
  assert.deepEqual(lines.slice(3), ['CREATE /d']);
  s.push('0123456789012\n');
  assert.equal(overlong, 2);
});
