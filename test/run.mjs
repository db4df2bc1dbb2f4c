// Runs every test/**/*.test.ts with node's test runner (through tsx) and fails if none ran.
// Node 20's `node --test` does not expand globs and silently finds 0 .ts files given a folder,
// so the files are listed here and the count of executed tests is checked.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.ts')) files.push(relative(root, p));
  }
})(join(root, 'test'));
files.sort();
const selected = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;
if (selected.length === 0) {
  console.error('test/run.mjs: no test files found');
  process.exit(1);
}
const tap = join(tmpdir(), `flagsync-tests-${process.pid}.tap`);
const args = [
  '--import', 'tsx',
  '--test',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=tap', `--test-reporter-destination=${tap}`,
  ...selected,
];
// The SDK warns on Node < 22 about its releases after January 2027; the lock file pins one that runs here.
const env = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...process.env };
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env });
child.on('exit', (code, signal) => {
  let ran = 0;
  try {
    const m = /^# tests (\d+)$/m.exec(readFileSync(tap, 'utf8'));
    ran = m ? Number(m[1]) : 0;
    rmSync(tap, { force: true });
  } catch { /* no report: counted as 0 */ }
  if (ran === 0) {
    console.error(`test/run.mjs: ${selected.length} file(s) ran 0 tests: failing`);
    process.exit(1);
  }
  process.exit(code ?? (signal ? 1 : 0));
});
