// Deployment settings: read from CDK context (cdk.json or `-c key=value`), typed and checked.
// `-c` values arrive as strings, so numbers, booleans and JSON objects are parsed here.
import type { Node } from 'constructs';

export type RemovalMode = 'retain' | 'destroy';
export type ApiAuth = 'iam' | 'none';

export interface FlagsyncConfig {
  readonly stackName: string;
  /** LABEL (upper-cased) → base URL of a flag origin, without trailing slash */
  readonly origins: Readonly<Record<string, string>>;
  readonly defaultServer: string;
  readonly scheduleExpression: string;
  /** the `request` part of the scheduled event (the handler validates it) */
  readonly schedulePayload: Readonly<Record<string, unknown>>;
  readonly scheduleEnabled: boolean;
  readonly memorySize: number;
  readonly timeoutSeconds: number;
  readonly syncBudgetSeconds: number;
  readonly logRetentionDays: number;
  readonly removalPolicy: RemovalMode;
  readonly apiAuth: ApiAuth;
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  readonly noncurrentVersionExpirationDays: number;
  readonly alarmErrorThreshold: number;
}

/** Used when a key is absent from the context (cdk.json repeats them, so this is for tests and `-c` overrides). */
export const DEFAULT_CONFIG: FlagsyncConfig = {
  stackName: 'Flagsync',
  origins: { REMOTE: 'https://www.fluentpython.com/data/flags' },
  defaultServer: 'REMOTE',
  scheduleExpression: 'rate(1 day)',
  schedulePayload: { all: true, maxReq: 20 },
  scheduleEnabled: true,
  memorySize: 1024,
  timeoutSeconds: 900,
  syncBudgetSeconds: 25,
  logRetentionDays: 30,
  removalPolicy: 'retain',
  apiAuth: 'iam',
  throttleRateLimit: 10,
  throttleBurstLimit: 20,
  noncurrentVersionExpirationDays: 30,
  alarmErrorThreshold: 1,
};

class ConfigError extends Error {
  constructor(key: string, message: string) {
    super(`context "${key}": ${message}`);
    this.name = 'ConfigError';
  }
}

function raw(node: Node, key: keyof FlagsyncConfig): unknown {
  const v: unknown = node.tryGetContext(key);
  return v === undefined || v === null || v === '' ? DEFAULT_CONFIG[key] : v;
}

function str(node: Node, key: keyof FlagsyncConfig): string {
  const v = raw(node, key);
  if (typeof v !== 'string') throw new ConfigError(key, `expected a string, got ${JSON.stringify(v)}`);
  return v;
}

function num(node: Node, key: keyof FlagsyncConfig, min: number, max: number): number {
  const v = raw(node, key);
  const n = typeof v === 'string' ? Number(v.trim()) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(key, `expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return n;
}

function bool(node: Node, key: keyof FlagsyncConfig): boolean {
  const v = raw(node, key);
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new ConfigError(key, `expected true or false, got ${JSON.stringify(v)}`);
}

function obj(node: Node, key: keyof FlagsyncConfig): Record<string, unknown> {
  let v = raw(node, key);
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      throw new ConfigError(key, `expected a JSON object, got ${JSON.stringify(v)}`);
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ConfigError(key, `expected an object, got ${JSON.stringify(v)}`);
  }
  return v as Record<string, unknown>;
}

function oneOf<T extends string>(node: Node, key: keyof FlagsyncConfig, allowed: readonly T[]): T {
  const v = str(node, key);
  if (!(allowed as readonly string[]).includes(v)) {
    throw new ConfigError(key, `expected one of ${allowed.join(' | ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

// CloudWatch Logs accepts only these retention periods (days).
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** Reads and validates every flagsync setting from the context of `node` (normally the App's). */
export function readConfig(node: Node): FlagsyncConfig {
  const origins: Record<string, string> = {};
  for (const [label, url] of Object.entries(obj(node, 'origins'))) {
    if (typeof url !== 'string' || !/^https?:\/\/\S+$/.test(url)) {
      throw new ConfigError('origins', `origin ${label} must be an http(s) URL, got ${JSON.stringify(url)}`);
    }
    origins[label.toUpperCase()] = url.replace(/\/+$/, ''); // the handler matches labels case-insensitively
  }
  if (Object.keys(origins).length === 0) throw new ConfigError('origins', 'at least one origin is required');

  const defaultServer = str(node, 'defaultServer').toUpperCase();
  if (!(defaultServer in origins)) {
    throw new ConfigError('defaultServer', `${defaultServer} is not a key of origins (${Object.keys(origins).join(', ')})`);
  }

  const scheduleExpression = str(node, 'scheduleExpression');
  if (!/^(rate|cron|at)\(.+\)$/.test(scheduleExpression)) {
    throw new ConfigError('scheduleExpression', `expected rate(...), cron(...) or at(...), got ${JSON.stringify(scheduleExpression)}`);
  }

  const timeoutSeconds = num(node, 'timeoutSeconds', 1, 900);
  const syncBudgetSeconds = num(node, 'syncBudgetSeconds', 1, 29);
  if (syncBudgetSeconds >= timeoutSeconds) {
    throw new ConfigError('syncBudgetSeconds', `must be below timeoutSeconds (${timeoutSeconds})`);
  }
  const logRetentionDays = num(node, 'logRetentionDays', 1, 3653);
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    throw new ConfigError('logRetentionDays', `CloudWatch Logs accepts only ${LOG_RETENTION_DAYS.join(', ')}`);
  }
  const stackName = str(node, 'stackName');
  if (!/^[A-Za-z][A-Za-z0-9-]{0,49}$/.test(stackName)) {
    throw new ConfigError('stackName', 'expected letters, digits and hyphens, starting with a letter, at most 50 characters');
  }

  return {
    stackName,
    origins,
    defaultServer,
    scheduleExpression,
    schedulePayload: obj(node, 'schedulePayload'),
    scheduleEnabled: bool(node, 'scheduleEnabled'),
    memorySize: num(node, 'memorySize', 128, 10240),
    timeoutSeconds,
    syncBudgetSeconds,
    logRetentionDays,
    removalPolicy: oneOf(node, 'removalPolicy', ['retain', 'destroy'] as const),
    apiAuth: oneOf(node, 'apiAuth', ['iam', 'none'] as const),
    throttleRateLimit: num(node, 'throttleRateLimit', 1, 10000),
    throttleBurstLimit: num(node, 'throttleBurstLimit', 1, 5000),
    noncurrentVersionExpirationDays: num(node, 'noncurrentVersionExpirationDays', 1, 3650),
    alarmErrorThreshold: num(node, 'alarmErrorThreshold', 1, 100000),
  };
}
