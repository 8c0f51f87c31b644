/**
 * The lab's layout is written once, in lab/layout.env: its reader refuses a malformed file, and
 * the lab library, scripts/lab and the lab's users carry no address of their own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import {
  DATA_VIP,
  LAYOUT_FILE,
  REPO_ROOT,
  VIPS,
  VOIP_VIP,
  parseLayout,
  voipAddress,
} from '../../../lab/layout';

test('layout.env: every name read, the VIPs and node addresses in documentation ranges', () => {
  const layout = parseLayout(readFileSync(LAYOUT_FILE, 'utf8'));
  assert.equal(layout.LAB_VOIP_VIP, VOIP_VIP);
  assert.equal(layout.LAB_DATA_VIP, DATA_VIP);
  assert.deepEqual(
    VIPS.map((v) => v.name),
    ['voip', 'data'],
  );
  for (const ip of [VOIP_VIP, DATA_VIP, voipAddress('pbx1'), voipAddress('pbx2')]) {
    assert.match(ip, /^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+$/, `${ip} is in a documentation range`);
  }
});

test('layout.env: a malformed line, an unknown or a missing name is refused with file and line', () => {
  const good = readFileSync(LAYOUT_FILE, 'utf8');
  assert.throws(
    () => parseLayout(`${good}\nLAB_VOIP_VIP = 192.0.2.10\n`, 'x.env'),
    /^Error: x\.env:\d+: expected NAME=VALUE/,
  );
  assert.throws(() => parseLayout(`${good}\nLAB_VOIP_VIP="192.0.2.10"\n`, 'x.env'), /expected NAME=VALUE/);
  assert.throws(() => parseLayout(`${good}\nLAB_TYPO=1\n`, 'x.env'), /x\.env:\d+: unknown name LAB_TYPO/);
  const withoutVip = good.replace(/^LAB_DATA_VIP=.*$/m, '');
  assert.throws(() => parseLayout(withoutVip, 'x.env'), /x\.env: missing LAB_DATA_VIP/);
});

/** Code lines (comments left out: they may show an address as an example). */
function codeLines(file: string): { n: number; text: string }[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((text, i) => ({ n: i + 1, text }))
    .filter(({ text }) => !/^\s*(\/\/|\/\*|\*|#)/.test(text));
}

test('no lab address is written outside layout.env in the lab library, scripts/lab and the lab users', () => {
  const layout = parseLayout(readFileSync(LAYOUT_FILE, 'utf8'));
  const addresses = Object.values(layout).filter((v) => /^\d+\.\d+\.\d+\.\d+/.test(v));
  assert.ok(addresses.length >= 10, 'the layout has its addresses');
  const rel = (...p: string[]) => path.join(REPO_ROOT, ...p);
  const tsIn = (dir: string) =>
    readdirSync(rel(dir))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => rel(dir, f));
  const files = [
    ...tsIn('lab'),
    ...tsIn('scripts/bench-lib'),
    rel('scripts/lab'),
    rel('scripts/bench.ts'),
    rel('scripts/demo.ts'),
    rel('test/lab/harness.ts'),
    rel('test/lab/pair.ts'),
    rel('test/faults/lib.ts'),
  ];
  const found: string[] = [];
  for (const file of files) {
    for (const { n, text } of codeLines(file)) {
      for (const a of addresses) {
        const ip = a.split('/')[0];
        if (new RegExp(`(^|[^\\d.])${ip.replace(/\./g, '\\.')}(?![\\d])`).test(text)) {
          found.push(`${path.relative(REPO_ROOT, file)}:${n}: ${ip}`);
        }
      }
    }
  }
  assert.deepEqual(found, [], 'addresses that belong in lab/layout.env');
});
