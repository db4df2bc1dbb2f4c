#!/usr/bin/env node
// Real `npx cdk synth -q` (offline, Lambda bundled by the local esbuild) into a temporary cloud assembly:
// prints how long it took and the size of the function bundle (index.mjs), checks the validation report
// has no unacknowledged finding and that the bundle loads as ESM and exports `handler`.
// Exits non-zero on any failure; the synth is killed after SYNTH_TIMEOUT_MS (default 5 min).
// Usage: node scripts/synth-check.mjs [--keep] [-- extra cdk args, e.g. -c apiAuth=none]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const keep = argv.includes('--keep');
const dashDash = argv.indexOf('--');
const extra = dashDash >= 0 ? argv.slice(dashDash + 1) : [];
const timeoutMs = Number(process.env.SYNTH_TIMEOUT_MS ?? 5 * 60_000);
const out = mkdtempSync(join(tmpdir(), 'flagsync-synth-'));

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

/** Runs a command in its own process group; kills the whole group on timeout. */
function run(cmd, args, { timeout, env = process.env, capture = false }) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: root,
      env,
      detached: true, // own process group: npx → cdk → tsx app, all killed together
      stdio: capture ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
    });
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    let timedOut = false;
    const killGroup = () => {
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    };
    const timer = setTimeout(() => { timedOut = true; killGroup(); }, timeout);
    const onSignal = () => { killGroup(); process.exit(130); }; // Ctrl-C: do not leave the synth running
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
    const done = (result) => {
      clearTimeout(timer);
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      resolve(result);
    };
    child.on('error', (err) => done({ code: 1, timedOut, output: String(err) }));
    child.on('exit', (code, signal) => done({ code: code ?? (signal ? 1 : 0), timedOut, output }));
  });
}

function fail(message) {
  console.error(`synth-check: FAILED: ${message}`);
  if (!keep) rmSync(out, { recursive: true, force: true });
  else console.error(`synth-check: cloud assembly kept in ${out}`);
  process.exit(1);
}

// 1. The real synth, as `npm run synth` would do it (cdk.json: notices and telemetry off).
const args = ['cdk', 'synth', '-q', '-o', out, ...extra];
console.log(`synth-check: npx ${args.join(' ')}`);
const started = performance.now();
// CDK_DISABLE_VERSION_CHECK: no registry call from the CLI.
const synth = await run('npx', args, { timeout: timeoutMs, env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' } });
const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (synth.timedOut) fail(`cdk synth did not finish within ${timeoutMs / 1000} s (killed)`);
if (synth.code !== 0) fail(`cdk synth exited with ${synth.code} after ${seconds} s`);
console.log(`synth-check: cdk synth took ${seconds} s`);

// 2. Validation report: no finding left unacknowledged (cdk-nag errors already fail the synth; this also catches warnings).
const reportPath = join(out, 'validation-report.json');
if (!existsSync(reportPath)) fail('no validation-report.json in the cloud assembly (is cdk-nag registered?)');
const report = JSON.parse(readFileSync(reportPath, 'utf8'));
const open = report.pluginReports.flatMap((r) => r.violations.map((v) => `${r.pluginName}: ${v.ruleName} (${v.severity})`));
if (open.length) fail(`unacknowledged findings:\n  ${open.join('\n  ')}`);
const acknowledged = report.pluginReports.reduce((n, r) => n + (r.suppressedViolations?.length ?? 0), 0);
console.log(`synth-check: validation report: 0 unacknowledged findings (${acknowledged} acknowledged)`);

// 3. The function's asset: the Node.js 24 function's Code comes from asset.<hash>/ (asset metadata in the template).
const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
const templates = Object.values(manifest.artifacts)
  .filter((a) => a.type === 'aws:cloudformation:stack')
  .map((a) => JSON.parse(readFileSync(join(out, a.properties.templateFile), 'utf8')));
const fns = templates.flatMap((t) => Object.values(t.Resources))
  .filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Runtime === 'nodejs24.x');
if (fns.length !== 1) fail(`expected one nodejs24.x function, found ${fns.length}`);
const assetDir = fns[0].Metadata?.['aws:asset:path'];
if (!assetDir) fail('the function has no aws:asset:path metadata');
const bundle = join(out, assetDir, 'index.mjs');
if (!existsSync(bundle)) fail(`${assetDir}/index.mjs missing (files: ${readdirSync(join(out, assetDir)).join(', ')})`);
const files = readdirSync(join(out, assetDir)).map((f) => `${f} ${kb(statSync(join(out, assetDir, f)).size)}`);
console.log(`synth-check: bundle ${assetDir}/index.mjs: ${kb(statSync(bundle).size)} (asset: ${files.join(', ')})`);

// 4. The bundle loads as ESM on this Node and exports the handler (catches "Dynamic require of X is not supported").
const probe = `const m = await import(${JSON.stringify(bundle)}); if (typeof m.handler !== 'function') { console.error('no handler export'); process.exit(1); }`;
const load = await run(process.execPath, ['--input-type=module', '-e', probe], {
  timeout: 30_000,
  capture: true,
  env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1', AWS_LAMBDA_FUNCTION_NAME: 'synth-check' },
});
if (load.code !== 0) fail(`the bundle does not load:\n${load.output.trim()}`);
console.log(`synth-check: bundle loads as ESM on Node ${process.versions.node} and exports handler`);

if (keep) console.log(`synth-check: cloud assembly kept in ${out}`);
else rmSync(out, { recursive: true, force: true });
console.log('synth-check: OK');
