// Which country codes a request names: the flags2 selection rules, pure and synchronous.

/** The 194 codes that `all` selects (and the only ones the flag site has). */
export const ALL_CODES: readonly string[] = (
  'AD AE AF AG AL AM AO AR AT AU AZ BA BB BD BE BF BG BH BI BJ BN BO BR BS BT BW BY BZ CA CD CF CG CH CI CL CM CN ' +
  'CO CR CU CV CY CZ DE DJ DK DM DZ EC EE EG ER ES ET FI FJ FM FR GA GB GD GE GH GM GN GQ GR GT GW GY HN HR HT HU ' +
  'ID IE IL IN IQ IR IS IT JM JO JP KE KG KH KI KM KN KP KR KW KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MG ' +
  'MH MK ML MM MN MR MT MU MV MW MX MY MZ NA NE NG NI NL NO NP NR NZ OM PA PE PG PH PK PL PT PW PY QA RO RS RU RW ' +
  'SA SB SC SD SE SG SI SK SL SM SN SO SR SS ST SV SY SZ TD TG TH TJ TL TM TN TO TR TT TV TW TZ UA UG US UY UZ VA ' +
  'VC VE VN VU WS YE ZA ZM ZW'
).split(' ');

/** The 20 most populous countries: what a request with no codes gets. */
export const DEFAULT_CODES: readonly string[] =
  'CN IN US ID BR PK NG BD RU JP MX PH VN ET EG DE IR TR CD FR'.split(' ');

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** AA..ZZ, 676 codes. */
export const EVERY_CODES: readonly string[] = [...LETTERS].flatMap((a) => [...LETTERS].map((b) => a + b));

export const MAX_CONCUR_REQ = 1000;
export const DEFAULT_MAX_REQ = 5;

export const CC_RULE = 'each CC argument must be A to Z or AA to ZZ';

export class SelectionError extends Error {
  override name = 'SelectionError';
}

export interface Selection {
  cc?: readonly string[];
  all?: boolean;
  every?: boolean;
  limit?: number;
}

/** Expands one CC argument: a letter gives its 26 codes, a pair is kept; anything else throws. */
export function expandArgument(arg: string): string[] {
  // Checked before upper-casing: 'ß'.toUpperCase() is 'SS'.
  if (/^[a-z]$/i.test(arg)) return [...LETTERS].map((b) => arg.toUpperCase() + b);
  if (/^[a-z]{2}$/i.test(arg)) return [arg.toUpperCase()];
  throw new SelectionError(`${CC_RULE}: got ${JSON.stringify(arg.length > 40 ? arg.slice(0, 40) + '…' : arg)}`);
}

/** `every` beats `all` beats codes; de-duplicate, sort, then `limit`. No codes → the top 20. */
export function selectCodes({ cc = [], all = false, every = false, limit }: Selection): string[] {
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) {
    throw new SelectionError(`limit must be a whole number ≥ 1: got ${String(limit)}`);
  }
  // Arguments are validated even when every/all wins, so a typo never passes silently.
  const named = cc.flatMap(expandArgument);
  const chosen = every ? EVERY_CODES : all ? ALL_CODES : named.length ? named : DEFAULT_CODES;
  const sorted = [...new Set(chosen)].sort();
  return limit === undefined ? sorted : sorted.slice(0, limit);
}

/** The concurrency actually used: min(maxReq, MAX_CONCUR_REQ, number of codes), at least 1. */
export function concurrencyFor(maxReq: number, codeCount: number): number {
  if (!(Number.isInteger(maxReq) && maxReq >= 1 && maxReq <= MAX_CONCUR_REQ)) {
    throw new SelectionError(`maxReq must be a whole number from 1 to ${MAX_CONCUR_REQ}: got ${String(maxReq)}`);
  }
  return Math.max(1, Math.min(maxReq, MAX_CONCUR_REQ, codeCount));
}

/** flags2's summary of what is searched: up to 10 codes by name, else "from X to Y". */
export function describeCodes(codes: readonly string[]): string {
  if (codes.length <= 10) return codes.join(', ');
  return `from ${codes[0]} to ${codes[codes.length - 1]}`;
}
