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

test('the splitter hands whole NUL-ended records on, across chunks, a newline being part of a name, and drops an overlong one whole', () => {
  const lines: string[] = [];
  let overlong = 0;
  const s = new LineSplitter(
    (l) => lines.push(l),
    () => overlong++,
    14,
  );
  s.push('CREATE /a');
  s.push('\0DELETE /b\0MOV');
  s.push('ED_TO /c\0');
  assert.deepEqual(lines, ['CREATE /a', 'DELETE /b', 'MOVED_TO /c']);
  s.push('CREATE /x\nQ_OVERFLOW\0');
  assert.deepEqual(lines.slice(3), [], 'longer than 14: dropped, not read as two events');
  assert.equal(overlong, 1);
  s.push('CREATE /x\nQ_OV\0');
  assert.deepEqual(lines.slice(3), ['CREATE /x\nQ_OV'], 'a name with a newline is one record');
  s.push('0123456789ABCDEF');
  s.push('more of the same');
  s.push(' line\0CREATE /d\0');
  assert.equal(overlong, 2);
  assert.deepEqual(lines.slice(4), ['CREATE /d']);
  s.push('012345678901234\0');
  assert.equal(overlong, 3);
});
