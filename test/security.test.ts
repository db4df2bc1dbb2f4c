// Security: (1) no request field, header, query or request target can make the function contact anything but a
// configured origin: hostile requests (table + fast-check) run against the local endpoint while a canary HTTP
// server listens on loopback, and the canary must see no connection at all, and the configured origins only
// paths of the form /flags/xx/xx.gif. (2) The synthesized template (bin/app.ts's createApp) from angles that
// test/stack.test.ts does not take: every policy document of every role and resource, the Lambda permissions,
// CORS, every route and stage with no auth or throttling settings in the context, the TLS deny's scope.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { createApp } from '../bin/app.ts';
import { DEFAULT_CONFIG } from '../lib/flagsync-config.ts';
import { startCanary, startStack, type Canary, type Json, type Reply, type Stack } from './endpoint-fixture.ts';

const FLAG_PATH = /^\/flags\/[a-z]{2}\/[a-z]{2}\.gif$/;

describe('no request can reach anything but a configured origin', () => {
  let canary: Canary;
  let s: Stack;
  // A second configured origin that answers every request with a redirect to the canary.
  let redirector: Server;
  const redirectorPaths: string[] = [];
  let canaryHost: string;
  let statuses: { what: string; status: number }[];

  before(async () => {
    canary = await startCanary();
    canaryHost = `127.0.0.1:${canary.port}`;
    redirector = createServer((req, res) => {
      redirectorPaths.push(req.url ?? '');
      res.writeHead(302, { location: `http://${canaryHost}${req.url}`, 'content-length': 0 });
      res.end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    const redirectorUrl = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/flags`;
    s = await startStack({ origins: { REDIRECT: redirectorUrl } });
    statuses = [];
  });
  after(async () => {
    await s.close();
    await new Promise<void>((resolve) => {
      redirector.close(() => resolve());
      redirector.closeAllConnections();
    });
    await canary.close();
  });

  const record = (what: string, r: Reply) => {
    statuses.push({ what, status: r.status });
    return r;
  };
  const post = async (body: unknown, headers: Record<string, string> = {}, query = '') =>
    record(JSON.stringify(body), await s.client.send('POST', `/downloads${query}`, {
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...headers },
    }));

  /** Hostile spellings of the canary: URLs, bare hosts, user-info tricks, other encodings of loopback. */
  const hostile = () => {
    const p = canary.port;
    return [
      `http://${canaryHost}`, `http://${canaryHost}/flags`, `https://${canaryHost}`, `//${canaryHost}`, canaryHost,
      `localhost:${p}`, `http://localhost:${p}/flags/br/br.gif`, `http://127.1:${p}`, `http://2130706433:${p}`,
      `http://0x7f000001:${p}`, `http://[::ffff:127.0.0.1]:${p}`, `http://LOCAL@${canaryHost}`, `LOCAL@${canaryHost}`,
      `LOCAL/../../${canaryHost}`, `LOCAL#@${canaryHost}`, `LOCAL?u=http://${canaryHost}`, `gopher://${canaryHost}/_x`,
      `file:///etc/passwd`, `../../${canaryHost}`, `..%2F..%2F${canaryHost}`, `\\\\${canaryHost}\\x`, `LOCAL\r\nHost: ${canaryHost}`,
    ];
  };
  const SMUGGLING_FIELDS = ['url', 'origin', 'host', 'baseUrl', 'endpoint', 'redirect', 'proxy', 's3Endpoint', 'origins', 'FLAGS_ORIGINS', 'callback'];
  const SMUGGLING_HEADERS = ['x-forwarded-host', 'x-forwarded-proto', 'forwarded', 'x-original-url', 'x-rewrite-url', 'referer', 'origin', 'x-forwarded-for', 'x-real-ip', 'x-forwarded-server', 'x-host'];

  test('table: a canary URL or host in server, in cc, or in an unknown field → 400, and nothing is fetched', async () => {
    const before = s.w.origin.stats().requests;
    for (const h of hostile()) {
      for (const body of [{ server: h }, { cc: ['br', h] }, { cc: ['br'], url: h }, { cc: ['br'], origin: h }, { cc: ['br'], host: h }]) {
        const r = await post(body);
        assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.status} ${r.text}`);
      }
    }
    for (const field of SMUGGLING_FIELDS) {
      const r = await post({ cc: ['br'], [field]: field === 'origins' ? { LOCAL: `http://${canaryHost}` } : `http://${canaryHost}` });
      assert.equal(r.status, 400, `${field} → ${r.status} ${r.text}`);
    }
    for (const cc of ['../../x', '..', '%2e%2e', 'br/../../..', `@${canaryHost}`, 'br?', 'b#', 'b/']) {
      const r = await post({ cc: [cc] });
      assert.equal(r.status, 400, `${cc} → ${r.status} ${r.text}`);
    }
    assert.equal(s.w.origin.stats().requests, before, 'a rejected request fetches nothing');
    assert.equal(canary.connections, 0);
  });

  test('table: Host, X-Forwarded-*, Forwarded and friends pointing at the canary change nothing; the 202 Location stays relative', async () => {
    s.w.origin.resetStats();
    const headerSets: Record<string, string>[] = [
      { host: canaryHost },
      ...SMUGGLING_HEADERS.map((h) => ({ [h]: h === 'forwarded' ? `host=${canaryHost};proto=http` : `http://${canaryHost}` })),
      Object.fromEntries(SMUGGLING_HEADERS.map((h) => [h, canaryHost])),
    ];
    for (const headers of headerSets) {
      const r = await post({ cc: ['br', 'zz'], verbose: true }, headers);
      assert.equal(r.status, 200, `${JSON.stringify(headers)} → ${r.status} ${r.text}`);
      assert.equal(r.json!.server, 'LOCAL');
      assert.deepEqual(r.json!.counts, { ok: 1, not_found: 1, error: 0 });
    }
    const accepted = await post({ cc: ['us'], async: true }, { host: canaryHost, 'x-forwarded-host': canaryHost, 'x-forwarded-proto': 'https' });
    assert.equal(accepted.status, 202, accepted.text);
    assert.match(accepted.json!.statusUrl as string, /^\/downloads\/[0-9a-f-]{36}$/, 'statusUrl is a path, not a URL on the Host given');
    assert.equal(accepted.headers.location, accepted.json!.statusUrl);
    const job = await s.client.pollJob(accepted.json!.statusUrl as string);
    assert.equal(job.status, 'done');
    // 2 codes per header set + the job's 1, and the origin saw just those
    assert.equal(s.w.origin.stats().requests, headerSets.length * 2 + 1);
    assert.equal(canary.connections, 0);
  });

  test('table: query strings naming the canary are ignored', async () => {
    for (const query of [
      `?server=${encodeURIComponent(`http://${canaryHost}`)}`,
      `?url=${encodeURIComponent(`http://${canaryHost}/x`)}&origin=${canaryHost}`,
      `?cc=../../x&host=${canaryHost}`,
    ]) {
      const r = await post({ cc: ['br'] }, {}, query);
      assert.equal(r.status, 200, `${query} → ${r.status} ${r.text}`);
      assert.equal(r.json!.server, 'LOCAL');
    }
    assert.equal(canary.connections, 0);
  });

  test('raw request targets: absolute-form naming the canary is routed by its path; CONNECT to the canary goes nowhere', async () => {
    const body = '{"cc":["br"]}';
    const absolute = await rawHttp(s.endpoint.port, [
      `POST http://${canaryHost}/downloads HTTP/1.1`, `Host: ${canaryHost}`, 'Content-Type: application/json',
      `Content-Length: ${body.length}`, 'Connection: close', '', body,
    ].join('\r\n'));
    assert.match(absolute, /^HTTP\/1\.1 200 /, absolute.slice(0, 200));
    const tunnel = await rawHttp(s.endpoint.port, `CONNECT ${canaryHost} HTTP/1.1\r\nHost: ${canaryHost}\r\n\r\n`);
    assert.doesNotMatch(tunnel, /^HTTP\/1\.1 2/, 'no tunnel is opened');
    assert.equal(canary.connections, 0);
  });

  test('a configured origin that redirects to the canary: the redirect is not followed (HTTP 302, no retry)', async () => {
    const r = await post({ cc: ['br', 'us'], server: 'redirect', verbose: true });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json!.counts, { ok: 0, not_found: 0, error: 2 });
    for (const e of r.json!.errors as Json[]) assert.equal(e.reason, 'HTTP 302 (redirects are not followed)');
    assert.deepEqual(redirectorPaths.sort(), ['/flags/br/br.gif', '/flags/us/us.gif'], 'one attempt each: a redirect is not retried');
    assert.equal(canary.connections, 0);
  });

  test('generated (fast-check): hostile values in fields, headers and query strings never reach the canary and never 5xx', async () => {
    const values = hostile();
    const headerSafe = values.filter((v) => !/[\r\n]/.test(v));
    const hostileValue = fc.constantFrom(...values);
    const code = fc.stringMatching(/^[A-Za-z]{1,2}$/);
    const body = fc.record(
      {
        cc: fc.array(fc.oneof({ weight: 4, arbitrary: code }, { weight: 1, arbitrary: hostileValue }), { maxLength: 3 }),
        server: fc.oneof(fc.constantFrom('LOCAL', 'local'), hostileValue),
        maxReq: fc.integer({ min: 1, max: 1000 }),
        limit: fc.integer({ min: 1, max: 5 }),
        all: fc.boolean(),
        verbose: fc.boolean(),
        dryRun: fc.boolean(),
        async: fc.boolean(),
        smuggled: fc.tuple(fc.constantFrom(...SMUGGLING_FIELDS), hostileValue),
      },
      { requiredKeys: [] },
    );
    const headers = fc.dictionary(fc.constantFrom('host', ...SMUGGLING_HEADERS), fc.constantFrom(...headerSafe), { maxKeys: 4 });
    const query = fc.option(fc.tuple(fc.constantFrom('server', 'url', 'origin', 'host', 'cc'), hostileValue), { nil: undefined });
    const jobs: string[] = [];
    await fc.assert(
      fc.asyncProperty(body, headers, query, async (b, h, q) => {
        const { smuggled, ...rest } = b;
        const sent: Json = smuggled ? { ...rest, [smuggled[0]]: smuggled[1] } : rest;
        // `all` only with a small limit: the property is about where requests go, not about volume.
        if (sent.all && sent.limit === undefined) sent.limit = 3;
        const r = await post(sent, h, q ? `?${q[0]}=${encodeURIComponent(q[1])}` : '');
        assert.ok([200, 202, 400].includes(r.status), `${JSON.stringify(sent)} ${JSON.stringify(h)} → ${r.status} ${r.text.slice(0, 200)}`);
        const rejected = values.includes(String(sent.server)) || smuggled !== undefined || (sent.cc as string[] | undefined)?.some((c) => values.includes(c));
        assert.equal(r.status === 400, rejected === true, `${JSON.stringify(sent)} → ${r.status} ${r.text.slice(0, 200)}`);
        if (r.status === 202) jobs.push(r.json!.statusUrl as string);
        assert.equal(canary.connections, 0, `${JSON.stringify(sent)} ${JSON.stringify(h)} reached the canary`);
      }),
      { numRuns: 80, seed: 31_337 },
    );
    for (const url of jobs) assert.equal((await s.client.pollJob(url)).status, 'done');
  });

  test('afterwards: the canary saw no connection, the origins only /flags/xx/xx.gif, no request got a 5xx', async (t) => {
    t.diagnostic(`${statuses.length} hostile requests; the origins saw ${Object.keys(s.w.origin.stats().byPath).length + redirectorPaths.length} distinct paths`);
    await s.local.idle();
    assert.equal(canary.connections, 0);
    assert.deepEqual(canary.requests, []);
    const paths = [...Object.keys(s.w.origin.stats().byPath), ...redirectorPaths];
    assert.ok(paths.length > 0, 'the origins were used');
    assert.deepEqual(paths.filter((p) => !FLAG_PATH.test(p)), []);
    assert.ok(statuses.length >= 200, `${statuses.length} requests`);
    assert.deepEqual(statuses.filter((x) => x.status >= 500), []);
  });
});

/** Sends bytes as they are on a new connection to loopback and returns all that comes back until it closes. */
function rawHttp(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 10_000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => (chunks.length ? undefined : reject(err)));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(text); // not end(): a half-closed request may be dropped before it is answered
  });
}

describe('template: least privilege and no open door, from other angles than test/stack.test.ts', () => {
  let json: Json;
  let template: Template;
  const resourcesOf = (type: string) => Object.entries(json.Resources as Json).filter(([, r]) => r.Type === type) as [string, Json][];
  const statementsOf = (doc: Json | undefined): Json[] => (doc ? [doc.Statement].flat() : []);
  const list = (v: unknown): unknown[] => (v === undefined ? [] : [v].flat());

  before(() => {
    // cdk.json's feature flags (the stack needs them), no bundling, and no apiAuth / throttling settings:
    // what a deployment gets when it does not choose them.
    const cdk = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as { context: Json };
    const context: Json = { ...cdk.context, 'aws:cdk:bundling-stacks': [] };
    for (const key of ['apiAuth', 'throttleRateLimit', 'throttleBurstLimit']) delete context[key];
    const { app, stack } = createApp({ context });
    const assembly = app.synth();
    json = assembly.getStackByName(stack.stackName).template as Json;
    template = Template.fromJSON(json);
  });

  test('IAM: every role, every policy document attached to it: no wildcard action, no Not*, no "*" resource; trust only AWS services', () => {
    const roles = resourcesOf('AWS::IAM::Role');
    assert.ok(roles.length >= 2, 'the function role and the schedule role');
    const policies = resourcesOf('AWS::IAM::Policy');
    const managed = resourcesOf('AWS::IAM::ManagedPolicy');
    for (const [, p] of [...policies, ...managed]) {
      const attached = list(p.Properties.Roles) as Json[];
      assert.ok(attached.length > 0 && attached.every((r) => roles.some(([id]) => r.Ref === id)), 'each policy is attached to a role of this stack');
    }
    for (const [roleId, role] of roles) {
      assert.equal(role.Properties.ManagedPolicyArns, undefined, `${roleId}: no managed policy (their contents cannot be checked here)`);
      for (const t of statementsOf(role.Properties.AssumeRolePolicyDocument)) {
        assert.equal(t.Effect, 'Allow');
        assert.deepEqual(Object.keys(t.Principal as Json), ['Service'], `${roleId}: assumed by an AWS service only`);
        assert.match(String(t.Principal.Service), /^[a-z.-]+\.amazonaws\.com$/);
      }
      const docs = [
        ...((role.Properties.Policies ?? []) as Json[]).map((x) => x.PolicyDocument as Json),
        ...[...policies, ...managed]
          .filter(([, p]) => (list(p.Properties.Roles) as Json[]).some((r) => r.Ref === roleId))
          .map(([, p]) => p.Properties.PolicyDocument as Json),
      ];
      const statements = docs.flatMap(statementsOf);
      assert.ok(statements.length > 0, `${roleId} has permissions`);
      for (const st of statements) {
        const where = `${roleId}: ${JSON.stringify(st).slice(0, 300)}`;
        assert.equal(st.Effect, 'Allow', where);
        assert.equal(st.NotAction, undefined, where);
        assert.equal(st.NotResource, undefined, where);
        for (const action of list(st.Action) as string[]) assert.ok(!action.includes('*'), `wildcard action: ${where}`);
        for (const resource of list(st.Resource)) assert.notEqual(resource, '*', `"*" resource: ${where}`);
      }
    }
  });

  test('resource policies: a wildcard action only in a Deny; every Allow names an AWS service and pins the source', () => {
    const docs = [...resourcesOf('AWS::S3::BucketPolicy'), ...resourcesOf('AWS::SQS::QueuePolicy')];
    assert.ok(docs.length >= 4);
    for (const [id, p] of docs) {
      for (const st of statementsOf(p.Properties.PolicyDocument)) {
        const where = `${id}: ${JSON.stringify(st).slice(0, 300)}`;
        if ((list(st.Action) as string[]).some((a) => a.includes('*'))) {
          assert.equal(st.Effect, 'Deny', where);
          assert.ok(st.Condition, `an unconditional wildcard deny would lock everyone out: ${where}`);
        }
        if (st.Effect === 'Allow') {
          assert.deepEqual(Object.keys(st.Principal as Json), ['Service'], `no public or cross-account allow: ${where}`);
          const condition = JSON.stringify(st.Condition ?? {});
          assert.match(condition, /aws:SourceArn|aws:SourceAccount/, `confused deputy: ${where}`);
        }
      }
    }
  });

  test('Lambda permissions: only API Gateway, only from this API', () => {
    const [apiId] = resourcesOf('AWS::ApiGatewayV2::Api')[0]!;
    const [fnId] = resourcesOf('AWS::Lambda::Function')[0]!;
    const permissions = resourcesOf('AWS::Lambda::Permission');
    assert.ok(permissions.length >= 1);
    for (const [id, p] of permissions) {
      assert.equal(p.Properties.Action, 'lambda:InvokeFunction', id);
      assert.equal(p.Properties.Principal, 'apigateway.amazonaws.com', id);
      assert.deepEqual(p.Properties.FunctionName, { 'Fn::GetAtt': [fnId, 'Arn'] }, id);
      const source = JSON.stringify(p.Properties.SourceArn ?? null);
      assert.ok(source.includes(`{"Ref":"${apiId}"}`), `${id}: SourceArn is scoped to this API: ${source}`);
    }
  });

  test('API: with no apiAuth in the context, no route is reachable without SigV4; no CORS preflight bypass', () => {
    const routes = resourcesOf('AWS::ApiGatewayV2::Route');
    assert.ok(routes.length >= 3);
    // Found by what is NOT IAM (absent or any other type): none.
    assert.deepEqual(Object.keys(template.findResources('AWS::ApiGatewayV2::Route', { Properties: { AuthorizationType: Match.absent() } })), []);
    assert.deepEqual(Object.keys(template.findResources('AWS::ApiGatewayV2::Route', { Properties: { AuthorizationType: Match.not('AWS_IAM') } })), []);
    assert.ok(routes.some(([, r]) => r.Properties.RouteKey === '$default'), 'a catch-all route, so no path escapes the authorizer');
    const integrations = resourcesOf('AWS::ApiGatewayV2::Integration');
    assert.equal(integrations.length, 1);
    for (const [id, r] of routes) {
      assert.deepEqual(r.Properties.Target, { 'Fn::Join': ['', ['integrations/', { Ref: integrations[0]![0] }]] }, id);
    }
    // CORS makes API Gateway answer OPTIONS preflights without authorization.
    for (const [id, api] of resourcesOf('AWS::ApiGatewayV2::Api')) assert.equal(api.Properties.CorsConfiguration, undefined, id);
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 0); // IAM needs none; a custom one could say yes to anyone
  });

  test('stage: the only stage is throttled, with DEFAULT_CONFIG limits when the context sets none, and no route overrides it', () => {
    const stages = resourcesOf('AWS::ApiGatewayV2::Stage');
    assert.equal(stages.length, 1, 'no unthrottled auto-created stage next to it');
    const [, stage] = stages[0]!;
    assert.equal(stage.Properties.DefaultRouteSettings.ThrottlingRateLimit, DEFAULT_CONFIG.throttleRateLimit);
    assert.equal(stage.Properties.DefaultRouteSettings.ThrottlingBurstLimit, DEFAULT_CONFIG.throttleBurstLimit);
    assert.ok(DEFAULT_CONFIG.throttleRateLimit > 0 && DEFAULT_CONFIG.throttleBurstLimit > 0);
    for (const [route, settings] of Object.entries((stage.Properties.RouteSettings ?? {}) as Json)) {
      assert.ok(settings.ThrottlingRateLimit > 0 && settings.ThrottlingBurstLimit > 0, `${route} is throttled too`);
    }
  });

  test('buckets: ACLs off, no website or CORS; the TLS deny covers the bucket and its objects, for everyone', () => {
    const buckets = resourcesOf('AWS::S3::Bucket');
    assert.ok(buckets.length >= 2);
    template.resourcePropertiesCountIs('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: Match.objectEquals({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true }),
    }, buckets.length);
    for (const [id, b] of buckets) {
      assert.deepEqual(b.Properties.OwnershipControls, { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] }, `${id}: ACLs disabled`);
      assert.equal(b.Properties.AccessControl, undefined, id);
      assert.equal(b.Properties.WebsiteConfiguration, undefined, id);
      assert.equal(b.Properties.CorsConfiguration, undefined, id);
      const policies = resourcesOf('AWS::S3::BucketPolicy').filter(([, p]) => p.Properties.Bucket.Ref === id);
      assert.equal(policies.length, 1, `${id} has one bucket policy`);
      const statements = statementsOf(policies[0]![1].Properties.PolicyDocument);
      const scope = [{ 'Fn::GetAtt': [id, 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id, 'Arn'] }, '/*']] }];
      const tls = statements.find((st) => st.Condition?.Bool?.['aws:SecureTransport'] === 'false');
      assert.ok(tls, `${id}: a non-TLS deny`);
      assert.equal(tls.Effect, 'Deny');
      assert.deepEqual(tls.Principal, { AWS: '*' }, `${id}: for every principal`);
      assert.deepEqual(list(tls.Action), ['s3:*']);
      assert.deepEqual(tls.Resource, scope, `${id}: on the bucket and on every object`);
      const version = statements.find((st) => st.Condition?.NumericLessThan?.['s3:TlsVersion'] !== undefined);
      assert.ok(version && version.Effect === 'Deny' && version.Condition.NumericLessThan['s3:TlsVersion'] >= 1.2, `${id}: TLS < 1.2 denied`);
      assert.deepEqual(version.Resource, scope);
    }
  });
});
