// Flag GIFs and metadata for the local flag origin (a dev/test tool, never shipped in the Lambda).
// The public-domain PNGs of svg-country-flags are converted to GIF once with sharp and cached on disk,
// so later starts only read ~2.5 MB of files. Only the 194 codes of ALL_CODES get a flag, as on the real site.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// The package's node entry (`i18n-iso-countries`) is CommonJS doing `module.exports = library` after
// loading all ~80 locales, so Node's ESM loader sees no named exports there (`import { getName }` type-checks
// but throws at run time). The browser entry below has plain `exports.x =` and loads no locale: register English only.
import countries from 'i18n-iso-countries/index.js';
import en from 'i18n-iso-countries/langs/en.json' with { type: 'json' };
import { ALL_CODES } from '../functions/codes.ts';

countries.registerLocale(en);

/** Changing how GIFs are made must change this: it names the cache sub-folder, so stale files are never served. */
export const FLAG_RECIPE = 'png250-w560-gif-e4';
// 250 px PNGs scaled to 560 px wide give 1-40 KB GIFs, ~12 KB on average, like the real site's.
// A flag above 40 KB at that width (AF, BT: detailed emblems) is made 400 px wide instead.
// GIF effort 4 (of 1-10, default 7) halves the time of the palette search for about the same sizes.
const WIDTH = 560;
const FALLBACK_WIDTH = 400;
const MAX_BYTES = 40 * 1024;

const require = createRequire(import.meta.url);
const PNG_DIR = join(dirname(require.resolve('svg-country-flags/package.json')), 'png250px');
const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Where GIFs are cached: `FLAGS_CACHE_DIR`, else `<project root>/.cache/flags`. */
export function flagsCacheDir(): string {
  return process.env.FLAGS_CACHE_DIR || join(PROJECT_ROOT, '.cache', 'flags');
}

/** The body of `/flags/{cc}/metadata.json`. */
export interface FlagMetadata {
  tld_cc: string;
  iso_cc: string;
  country: string;
  gec_cc: string;
}

const HAS_FLAG = new Set(ALL_CODES);

/**
 * Metadata for a code that has a flag (any case), else undefined. The name is i18n-iso-countries' English one.
 * gec_cc repeats the ISO code (no FIPS GEC table here); the TLD is `.` + code, except GB → `.uk`.
 */
export function flagMetadata(cc: string): FlagMetadata | undefined {
  const iso = cc.toUpperCase();
  if (!HAS_FLAG.has(iso)) return undefined;
  const country = countries.getName(iso, 'en') ?? iso;
  return { tld_cc: iso === 'GB' ? '.uk' : `.${iso.toLowerCase()}`, iso_cc: iso, country, gec_cc: iso };
}

async function convert(cc: string): Promise<Buffer> {
  const { default: sharp } = await import('sharp'); // loaded only on a cold cache: a warm start skips libvips
  const png = join(PNG_DIR, `${cc}.png`);
  const at = (width: number) => sharp(png).resize({ width }).gif({ effort: 4 }).toBuffer();
  const gif = await at(WIDTH);
  return gif.length <= MAX_BYTES ? gif : at(FALLBACK_WIDTH);
}

const isGif = (b: Buffer) => b.length > 6 && b.subarray(0, 4).toString('latin1') === 'GIF8';

/** Reads one cached GIF, making it first when missing. Temp file + rename: concurrent processes never see half a file. */
async function cachedGif(dir: string, cc: string): Promise<Buffer> {
  const file = join(dir, `${cc}.gif`);
  try {
    const cached = await readFile(file);
    if (isGif(cached)) return cached;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const gif = await convert(cc);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, gif);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return gif;
}

// One promise per code per process: several origins in one test process share the work and the buffers.
const memo = new Map<string, Promise<Buffer>>();

/**
 * The GIFs of `codes` (any case; default ALL_CODES) keyed by lower-case code. Codes with no flag are left out.
 * Cold, the conversions run `availableParallelism()` at a time.
 */
export async function loadFlagImages(codes: readonly string[] = ALL_CODES): Promise<Map<string, Buffer>> {
  const dir = join(flagsCacheDir(), FLAG_RECIPE);
  await mkdir(dir, { recursive: true });
  const wanted = [...new Set(codes.map((c) => c.toUpperCase()))].filter((c) => HAS_FLAG.has(c)).map((c) => c.toLowerCase());
  const images = new Map<string, Buffer>();
  const queue = [...wanted];
  const worker = async () => {
    for (let cc = queue.shift(); cc !== undefined; cc = queue.shift()) {
      const key = `${dir}\0${cc}`;
      let p = memo.get(key);
      if (!p) {
        p = cachedGif(dir, cc);
        memo.set(key, p);
        p.catch(() => memo.delete(key));
      }
      images.set(cc, await p);
    }
  };
  await Promise.all(Array.from({ length: Math.min(availableParallelism(), wanted.length) }, worker));
  // Same order as asked, whatever order the workers finished in.
  return new Map(wanted.map((cc) => [cc, images.get(cc)!]));
}
