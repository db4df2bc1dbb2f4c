// Signing the CLI's requests to a deployed API (IAM-authorized HTTP API): SigV4 for `execute-api`, with
// credentials from the default Node provider chain (env, SSO, profiles, process, web identity, ECS/EC2 roles).
import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';

/** What is signed: the request as it will be sent. */
export interface RequestToSign {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
}

/** Returns the headers to send: the given ones plus host, x-amz-date, authorization (and x-amz-security-token). */
export type SignRequest = (req: RequestToSign) => Promise<Record<string, string>>;

const EXECUTE_API_HOST = /\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$/;

/** --region, else the region in an execute-api host name, else AWS_REGION / AWS_DEFAULT_REGION. */
export function regionFor(endpoint: URL, explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return explicit ?? EXECUTE_API_HOST.exec(endpoint.hostname)?.[1] ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined);
}

export function isLoopback(url: URL): boolean {
  return url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
}

export class SigningError extends Error {
  override name = 'SigningError';
}

/**
 * A signer for this endpoint. Credentials are resolved now, so a missing login fails before any request.
 * A loopback endpoint (`npm run serve`) needs no signature: without credentials it gets unsigned requests.
 */
export async function createSigner(endpoint: URL, explicitRegion?: string): Promise<SignRequest | undefined> {
  const local = isLoopback(endpoint);
  const region = regionFor(endpoint, explicitRegion) ?? (local ? 'us-east-1' : undefined);
  if (region === undefined) {
    throw new SigningError(`cannot tell the API's region from ${endpoint.host}: pass --region (or set AWS_REGION)`);
  }
  const credentials = fromNodeProviderChain();
  try {
    await credentials();
  } catch (err) {
    if (local) return undefined;
    throw new SigningError(
      `no AWS credentials to sign requests to ${endpoint.host} (${(err as Error).message}): ` +
        'set AWS_PROFILE, run `aws sso login`, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
    );
  }
  const signer = new SignatureV4({ service: 'execute-api', region, credentials, sha256: Sha256, applyChecksum: false });
  return async ({ method, url, headers, body }) => {
    const signed = await signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...headers, host: url.host },
      body,
    });
    return signed.headers as Record<string, string>;
  };
}
