// The Lambda bundle as the CDK builds it: esbuild with the options of lib/esm-function.ts (NodejsFunction
// passes `--bundle entry --target --platform=node --format=esm --outfile=index.mjs --minify --sourcemap
// --sources-content=false --main-fields --banner:js`), its size, what it is made of, and its import time.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { median, round } from './support.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const ENTRY = 'functions/handler.ts';

interface CdkBundling {
  target: string;
  mainFields: string[];
  banner: string;
  /** NODE_OPTIONS the function runs with (`--enable-source-maps` while source maps are on, the default). */
  nodeOptions: string[];
}

/**
 * Reads the bundling options from lib/esm-function.ts itself (importing it would load aws-cdk-lib), so the
 * benchmark cannot silently drift from what is deployed. Fails loudly if the file no longer matches.
 */
export function cdkBundling(): CdkBundling {
  const src = readFileSync(join(PROJECT_ROOT, 'lib/esm-function.ts'), 'utf8');
  const banner = /const REQUIRE_BANNER = "([^"]+)";/.exec(src)?.[1];
  const target = /target: '([^']+)'/.exec(src)?.[1];
  const mainFields = /mainFields: \[([^\]]+)\]/.exec(src)?.[1]?.split(',').map((s) => s.trim().replace(/^'|'$/g, ''));
  const sourceMapOn = src.includes('const sourceMap = props.sourceMap ?? true;') &&
    !/sourceMap: false/.test(readFileSync(join(PROJECT_ROOT, 'lib/flagsync-stack.ts'), 'utf8'));
  const nodeOptions = sourceMapOn ? (/NODE_OPTIONS: '([^']+)'/.exec(src)?.[1]?.split(' ') ?? []) : [];
  const flags = ['format: OutputFormat.ESM', 'minify: true', 'sourcesContent: false', 'externalModules: props.externalModules ?? []'];
  const missing = flags.filter((f) => !src.includes(f));
  if (!banner || !target || !mainFields || missing.length > 0) {
    throw new Error(`lib/esm-function.ts changed: the bench cannot mirror its bundling (missing: ${[!banner && 'banner', !target && 'target', !mainFields && 'mainFields', ...missing].filter(Boolean).join(', ')})`);
  }
  return { target, mainFields, banner, nodeOptions };
}

export interface Bundle {
  file: string;
  bytes: number;
  mapBytes: number;
  metafile: Metafile;
}

/** Builds the handler into `outdir/index.mjs`; `external` leaves packages out (to measure what each costs). */
export async function buildBundle(outdir: string, external: string[] = []): Promise<Bundle> {
  const o = cdkBundling();
  const file = join(outdir, 'index.mjs');
  const result = await build({
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: o.target,
    outfile: file,
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    mainFields: o.mainFields,
    banner: { js: o.banner },
    external,
    metafile: true,
    logLevel: 'silent',
  });
  return { file, bytes: statSync(file).size, mapBytes: statSync(`${file}.map`).size, metafile: result.metafile };
}

/** The npm package a bundled input belongs to (`@scope/name` or `name`), or `(project) dir` for our own files. */
export function packageOf(input: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  return m?.[1] ?? `(project) ${input.split('/')[0] ?? input}`;
}

/** Bytes in the output by package, largest first. */
export function bytesByPackage(metafile: Metafile): { pkg: string; bytes: number }[] {
  const out = Object.values(metafile.outputs).find((o) => o.entryPoint !== undefined);
  if (!out) throw new Error('esbuild metafile has no entry output');
  const by = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
    const pkg = packageOf(input);
    by.set(pkg, (by.get(pkg) ?? 0) + bytesInOutput);
  }
  return [...by].map(([pkg, bytes]) => ({ pkg, bytes })).sort((a, b) => b.bytes - a.bytes);
}

/** Bytes in the output from inputs whose path matches (e.g. undici's two llhttp WASM copies). */
export function bytesOfInputs(metafile: Metafile, match: RegExp): number {
  const out = Object.values(metafile.outputs).find((o) => o.entryPoint !== undefined);
  return Object.entries(out?.inputs ?? {})
    .filter(([input]) => match.test(input))
    .reduce((sum, [, i]) => sum + i.bytesInOutput, 0);
}

export const kb = (bytes: number) => round(bytes / 1024, 1);

/**
 * Milliseconds to import the bundle in a fresh Node process (the cold-start share of the code itself), with
 * the given Node options, `runs` times one after another; the median and every sample.
 */
export function importTimes(file: string, nodeOptions: string[], runs = 5): { medianMs: number; samples: number[] } {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); console.log(performance.now() - t);`;
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, [...nodeOptions, '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    const ms = Number(r.stdout.trim().split('\n').pop());
    if (r.status !== 0 || !Number.isFinite(ms)) throw new Error(`importing the bundle failed (exit ${r.status}): ${r.stderr.slice(0, 500)}`);
    samples.push(round(ms, 1));
  }
  return { medianMs: round(median(samples), 1), samples };
}
