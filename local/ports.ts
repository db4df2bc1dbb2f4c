// Is a loopback port free? Checked before the local stack starts, so the CLI can explain a busy default
// port (usually a running `npm run serve`) and take a free one instead of failing.
import { createServer } from 'node:net';

export const DEFAULT_S3_PORT = 4569;
export const DEFAULT_ENDPOINT_PORT = 3000;

export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  if (port === 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

export interface PortChoice {
  s3Port: number;
  endpointPort: number;
  /** One line per port that was busy and replaced by a free one. */
  notes: string[];
}

/**
 * The ports to start on: the asked ones (defaults 4569 and 3000), each replaced by 0 (a free port) when busy.
 * A small race remains (another process may take a port between this check and the start); it fails loudly.
 */
export async function choosePorts(o: { s3Port?: number; endpointPort?: number }): Promise<PortChoice> {
  const notes: string[] = [];
  const pick = async (port: number, what: string) => {
    if (await isPortFree(port)) return port;
    notes.push(`port ${port} (${what}) is busy, is \`npm run serve\` running? Using a free port instead.`);
    return 0;
  };
  const s3Port = await pick(o.s3Port ?? DEFAULT_S3_PORT, 'local S3');
  const endpointPort = await pick(o.endpointPort ?? DEFAULT_ENDPOINT_PORT, 'local API');
  if (notes.length && endpointPort === 0) {
    notes.push(`To send the request to the running one instead: flagsync --endpoint http://127.0.0.1:${o.endpointPort ?? DEFAULT_ENDPOINT_PORT} ...`);
  }
  return { s3Port, endpointPort, notes };
}
