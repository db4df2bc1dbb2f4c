// Lambda entry point. (Placeholder until the handler lands: the CDK stack needs the file to exist.)
export async function handler(_event: unknown): Promise<unknown> {
  return { statusCode: 501, body: JSON.stringify({ error: 'not implemented yet' }) };
}
