// FlagsyncStack as synthesized (bundling skipped): resources, least-privilege IAM, context handling,
// and the cdk-nag validation report (0 unacknowledged findings).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { createApp } from '../bin/app.ts';
import { DEFAULT_CONFIG, readConfig } from '../lib/flagsync-config.ts';
import { FlagsyncStack } from '../lib/flagsync-stack.ts';

// Synthesized CloudFormation is untyped JSON.
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const cdkJson = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as { context: Json };

/**
 * cdk.json's context (settings + feature flags) with overrides, and no asset bundling. Validation
 * findings do not throw here: they land in validation-report.json, which the cdk-nag tests read, so
 * a finding fails those tests and not every test that synthesizes.
 */
function context(overrides: Json = {}): Json {
  return {
    ...cdkJson.context,
    'aws:cdk:bundling-stacks': [],
    '@aws-cdk/core:failSynthOnValidationErrors': false,
    ...overrides,
  };
}

interface Synthesized {
  stack: FlagsyncStack;
  template: Template;
  json: Json;
  report: Json;
}

const cache = new Map<string, Synthesized>();
/** Builds the real app (bin/app.ts) with this context, synthesizes it once, keeps template and validation report. */
function synth(overrides: Json = {}): Synthesized {
  const key = JSON.stringify(overrides);
  let s = cache.get(key);
  if (!s) {
    const { app, stack } = createApp({ context: context(overrides) });
    const assembly = app.synth();
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as Json;
    const template = Template.fromJSON(assembly.getStackByName(stack.stackName).template as Json);
    s = { stack, template, json: template.toJSON() as Json, report };
    cache.set(key, s);
  }
  return s;
}

function resourcesOf(json: Json, type: string): [string, Json][] {
  return Object.entries(json.Resources as Json).filter(([, r]) => (r as Json).Type === type) as [string, Json][];
}

function onlyResource(json: Json, type: string): [string, Json] {
  const found = resourcesOf(json, type);
  assert.equal(found.length, 1, `expected one ${type}, found ${found.length}`);
  return found[0]!;
}

/** Every statement of every policy document in the template (IAM policies, roles, bucket and queue policies). */
function allStatements(json: Json): { logicalId: string; statement: Json }[] {
  const out: { logicalId: string; statement: Json }[] = [];
  for (const [logicalId, r] of Object.entries(json.Resources as Json)) {
    const p = (r as Json).Properties ?? {};
    const docs: Json[] = [p.PolicyDocument, p.AssumeRolePolicyDocument, ...((p.Policies ?? []) as Json[]).map((x) => x.PolicyDocument)];
    for (const doc of docs.filter(Boolean)) {
      for (const statement of [doc.Statement].flat()) out.push({ logicalId, statement });
    }
  }
  return out;
}

const actionsOf = (s: Json): string[] => [s.Action ?? s.NotAction ?? []].flat();

/** The function's own identity policy statements. */
function functionStatements(s: Synthesized): Json[] {
  const roleId = s.stack.resolve(s.stack.getLogicalId(s.stack.sync.role.node.defaultChild as CfnElement)) as string;
  return resourcesOf(s.json, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties.Roles as Json[]).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => [p.Properties.PolicyDocument.Statement].flat());
}

test('function: Node.js 24 on arm64, ESM handler, settings from context', () => {
  const { template } = synth({ memorySize: 512, timeoutSeconds: 600 });
  template.hasResourceProperties('AWS::Lambda::Function', {
    Runtime: 'nodejs24.x',
    Architectures: ['arm64'],
    Handler: 'index.handler',
    FunctionName: 'Flagsync-sync',
    MemorySize: 512,
    Timeout: 600,
    LoggingConfig: { LogFormat: 'JSON', LogGroup: Match.anyValue() },
  });
  synth().template.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 1024, Timeout: 900 });
});

test('function: environment variables for the handler', () => {
  const { json } = synth({ origins: { remote: 'https://example.org/flags/', LOCAL: 'http://localhost:8001' }, defaultServer: 'local', syncBudgetSeconds: 20 });
  const [, fn] = onlyResource(json, 'AWS::Lambda::Function');
  const env = fn.Properties.Environment.Variables as Json;
  assert.deepEqual(Object.keys(env).sort(), [
    'FLAGS_BUCKET', 'FLAGS_DEFAULT_SERVER', 'FLAGS_JOBS_PREFIX', 'FLAGS_ORIGINS', 'FLAGS_PREFIX', 'FLAGS_REPORTS_PREFIX',
    'FLAGS_SYNC_BUDGET_MS', 'NODE_OPTIONS', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_SERVICE_NAME',
  ]);
  assert.equal(env.FLAGS_PREFIX, 'flags/');
  assert.equal(env.FLAGS_JOBS_PREFIX, 'jobs/');
  assert.equal(env.FLAGS_REPORTS_PREFIX, 'reports/');
  assert.deepEqual(JSON.parse(env.FLAGS_ORIGINS), { REMOTE: 'https://example.org/flags', LOCAL: 'http://localhost:8001' });
  assert.equal(env.FLAGS_DEFAULT_SERVER, 'LOCAL');
  assert.equal(env.FLAGS_SYNC_BUDGET_MS, '20000');
  assert.equal(env.POWERTOOLS_SERVICE_NAME, 'flagsync');
  assert.equal(env.POWERTOOLS_METRICS_NAMESPACE, 'Flagsync');
  assert.equal(env.NODE_OPTIONS, '--enable-source-maps');
  assert.ok('Ref' in env.FLAGS_BUCKET, 'FLAGS_BUCKET references the flags bucket');
  assert.equal(json.Resources[env.FLAGS_BUCKET.Ref].Type, 'AWS::S3::Bucket');
  assert.ok(json.Resources[env.FLAGS_BUCKET.Ref].Properties.VersioningConfiguration, 'the versioned bucket, not the logs bucket');
});

test('log groups: explicit, with the retention from context', () => {
  const lambdaLogGroup = (s: Synthesized) => {
    const [, fn] = onlyResource(s.json, 'AWS::Lambda::Function');
    return s.json.Resources[fn.Properties.LoggingConfig.LogGroup.Ref] as Json;
  };
  assert.equal(lambdaLogGroup(synth()).Properties.RetentionInDays, 30);
  assert.equal(lambdaLogGroup(synth({ logRetentionDays: 7 })).Properties.RetentionInDays, 7);
  // The API access log group too; and nothing creates the LogRetention custom resource.
  const s = synth({ logRetentionDays: 7 });
  const groups = resourcesOf(s.json, 'AWS::Logs::LogGroup');
  assert.equal(groups.length, 2);
  for (const [, g] of groups) assert.equal(g.Properties.RetentionInDays, 7);
  assert.equal(resourcesOf(s.json, 'Custom::LogRetention').length, 0);
});

test('API: the three routes, IAM-authorized by default, payload format 2.0', () => {
  const { json, template } = synth();
  const routes = resourcesOf(json, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties as Json);
  assert.deepEqual(routes.map((r) => r.RouteKey).sort(), ['$default', 'GET /downloads/{jobId}', 'POST /downloads']);
  for (const r of routes) assert.equal(r.AuthorizationType, 'AWS_IAM', `${r.RouteKey} must require IAM auth`);
  template.resourceCountIs('AWS::ApiGatewayV2::Integration', 1);
  template.hasResourceProperties('AWS::ApiGatewayV2::Integration', { IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
  template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
});

test('API: apiAuth "none" leaves every route open', () => {
  const routes = resourcesOf(synth({ apiAuth: 'none' }).json, 'AWS::ApiGatewayV2::Route');
  assert.equal(routes.length, 3);
  for (const [, r] of routes) assert.equal(r.Properties.AuthorizationType, 'NONE');
});

test('API: $default stage with throttling and JSON access logs', () => {
  const { json } = synth({ throttleRateLimit: 7, throttleBurstLimit: 13 });
  const [, stage] = onlyResource(json, 'AWS::ApiGatewayV2::Stage');
  assert.equal(stage.Properties.StageName, '$default');
  assert.equal(stage.Properties.AutoDeploy, true);
  assert.deepEqual(stage.Properties.DefaultRouteSettings, { ThrottlingRateLimit: 7, ThrottlingBurstLimit: 13 });
  const format = JSON.parse(stage.Properties.AccessLogSettings.Format as string) as Json;
  assert.equal(format.requestId, '$context.requestId');
  assert.equal(format.status, '$context.status');
  const dest = stage.Properties.AccessLogSettings.DestinationArn['Fn::GetAtt'][0] as string;
  assert.equal(json.Resources[dest].Type, 'AWS::Logs::LogGroup');
  // cdk.json defaults
  const [, defaults] = onlyResource(synth().json, 'AWS::ApiGatewayV2::Stage');
  assert.deepEqual(defaults.Properties.DefaultRouteSettings, { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 });
});

test('schedule: EventBridge Scheduler → function, with retries and an encrypted TLS-only DLQ', () => {
  const { json, template } = synth({ scheduleExpression: 'cron(0 3 * * ? *)', schedulePayload: { codes: ['BR'] }, scheduleEnabled: false });
  template.resourceCountIs('AWS::Events::Rule', 0);
  const [, schedule] = onlyResource(json, 'AWS::Scheduler::Schedule');
  const p = schedule.Properties as Json;
  assert.equal(p.ScheduleExpression, 'cron(0 3 * * ? *)');
  assert.equal(p.State, 'DISABLED');
  assert.deepEqual(JSON.parse(p.Target.Input as string), { source: 'flagsync.schedule', request: { codes: ['BR'] } });
  assert.deepEqual(p.Target.RetryPolicy, { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 });
  const [fnId] = onlyResource(json, 'AWS::Lambda::Function');
  assert.deepEqual(p.Target.Arn, { 'Fn::GetAtt': [fnId, 'Arn'] });
  const dlqId = p.Target.DeadLetterConfig.Arn['Fn::GetAtt'][0] as string;
  assert.equal(json.Resources[dlqId].Type, 'AWS::SQS::Queue');
  assert.equal(json.Resources[dlqId].Properties.SqsManagedSseEnabled, true);
  const [, dlqPolicy] = resourcesOf(json, 'AWS::SQS::QueuePolicy').find(([, q]) => q.Properties.Queues[0].Ref === dlqId)!;
  assert.ok(
    [dlqPolicy.Properties.PolicyDocument.Statement].flat().some((s: Json) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false'),
    'the DLQ denies non-TLS access',
  );
  // Its role may invoke exactly this function and send to exactly this DLQ.
  const roleId = p.Target.RoleArn['Fn::GetAtt'][0] as string;
  const [, rolePolicy] = resourcesOf(json, 'AWS::IAM::Policy').find(([, q]) => q.Properties.Roles[0].Ref === roleId)!;
  assert.deepEqual(rolePolicy.Properties.PolicyDocument.Statement, [
    { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: { 'Fn::GetAtt': [fnId, 'Arn'] } },
    { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: { 'Fn::GetAtt': [dlqId, 'Arn'] } },
  ]);
  assert.equal(synth().json.Resources[onlyResource(synth().json, 'AWS::Scheduler::Schedule')[0]].Properties.State, 'ENABLED');
});

test('bucket: private, SSE-S3, versioned, TLS-only, access-logged, noncurrent versions expire', () => {
  const { json } = synth({ noncurrentVersionExpirationDays: 12 });
  const buckets = resourcesOf(json, 'AWS::S3::Bucket');
  assert.equal(buckets.length, 2, 'the flags bucket and its access-logs bucket');
  for (const [id, b] of buckets) {
    assert.deepEqual(b.Properties.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
    }, id);
    assert.equal(b.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm, 'AES256', id);
    const [, policy] = resourcesOf(json, 'AWS::S3::BucketPolicy').find(([, p]) => p.Properties.Bucket.Ref === id)!;
    assert.ok(
      [policy.Properties.PolicyDocument.Statement].flat().some((s: Json) =>
        s.Effect === 'Deny' && actionsOf(s).includes('s3:*') && s.Condition?.Bool?.['aws:SecureTransport'] === 'false'),
      `${id} denies non-TLS requests`,
    );
    assert.equal(b.DeletionPolicy, 'Retain', id);
  }
  const [logsId] = buckets.find(([, b]) => !b.Properties.VersioningConfiguration)!;
  const [, flags] = buckets.find(([, b]) => b.Properties.VersioningConfiguration)!;
  assert.equal(flags.Properties.VersioningConfiguration.Status, 'Enabled');
  assert.deepEqual(flags.Properties.LoggingConfiguration.DestinationBucketName, { Ref: logsId });
  const rules = flags.Properties.LifecycleConfiguration.Rules as Json[];
  assert.ok(rules.some((r) => r.NoncurrentVersionExpiration?.NoncurrentDays === 12));
});

test('removalPolicy "destroy": resources deleted with the stack, buckets emptied first', () => {
  const { json } = synth({ removalPolicy: 'destroy' });
  for (const type of ['AWS::S3::Bucket', 'AWS::Logs::LogGroup', 'AWS::SQS::Queue']) {
    for (const [id, r] of resourcesOf(json, type)) assert.equal(r.DeletionPolicy, 'Delete', `${id} (${type})`);
  }
  assert.equal(resourcesOf(json, 'Custom::S3AutoDeleteObjects').length, 2);
  assert.equal(resourcesOf(synth().json, 'Custom::S3AutoDeleteObjects').length, 0, 'never auto-delete when retained');
});

test('IAM: no Allow statement anywhere has a wildcard action', () => {
  const wild = allStatements(synth().json).filter(({ statement }) =>
    statement.Effect === 'Allow' && actionsOf(statement).some((a) => a.includes('*')));
  assert.deepEqual(wild, []);
  // With removalPolicy "destroy", the only exception is CDK's auto-delete-objects provider (bucket policy grant).
  const destroyWild = allStatements(synth({ removalPolicy: 'destroy' }).json).filter(({ statement }) =>
    statement.Effect === 'Allow' && actionsOf(statement).some((a) => a.includes('*')));
  for (const { statement } of destroyWild) {
    assert.match(JSON.stringify(statement.Principal), /CustomS3AutoDeleteObjectsCustomResourceProviderRole/);
  }
});

test('IAM: the function reaches only flags/, jobs/, reports/ and invokes only itself', () => {
  const s = synth();
  const statements = functionStatements(s);
  const [bucketId] = resourcesOf(s.json, 'AWS::S3::Bucket').find(([, b]) => b.Properties.VersioningConfiguration)!;
  const objects = statements.filter((x) => actionsOf(x).some((a) => a.startsWith('s3:') && a !== 's3:ListBucket'));
  assert.equal(objects.length, 1);
  assert.deepEqual(actionsOf(objects[0]!).sort(), ['s3:GetObject', 's3:PutObject']);
  assert.deepEqual(objects[0]!.Resource, ['flags/', 'jobs/', 'reports/'].map((prefix) => ({
    'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, `/${prefix}*`]],
  })));
  const list = statements.filter((x) => actionsOf(x).includes('s3:ListBucket'));
  assert.equal(list.length, 1);
  assert.deepEqual(list[0]!.Resource, { 'Fn::GetAtt': [bucketId, 'Arn'] });
  // unconditioned on purpose: a prefix condition turns S3's 404 for a missing key into 403
  assert.equal(list[0]!.Condition, undefined);
  const invoke = statements.filter((x) => actionsOf(x).some((a) => a.startsWith('lambda:')));
  assert.equal(invoke.length, 1);
  assert.deepEqual(actionsOf(invoke[0]!), ['lambda:InvokeFunction']);
  assert.match(JSON.stringify(invoke[0]!.Resource), /:function:Flagsync-sync"\]\]\}$/);
  const all = statements.flatMap(actionsOf).sort();
  assert.deepEqual([...new Set(all)], [
    'lambda:InvokeFunction', 'logs:CreateLogStream', 'logs:PutLogEvents', 's3:GetObject', 's3:ListBucket', 's3:PutObject',
    'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage',
  ]);
  // No managed policies on any role.
  for (const [id, role] of resourcesOf(s.json, 'AWS::IAM::Role')) assert.equal(role.Properties.ManagedPolicyArns, undefined, id);
});

test('function: async invocations retry twice, then go to an encrypted failure queue', () => {
  const { json } = synth();
  const [, config] = onlyResource(json, 'AWS::Lambda::EventInvokeConfig');
  assert.equal(config.Properties.MaximumRetryAttempts, 2);
  assert.equal(config.Properties.MaximumEventAgeInSeconds, 3600);
  const queueId = config.Properties.DestinationConfig.OnFailure.Destination['Fn::GetAtt'][0] as string;
  assert.equal(json.Resources[queueId].Type, 'AWS::SQS::Queue');
  assert.equal(json.Resources[queueId].Properties.SqsManagedSseEnabled, true);
});

test('alarms: Lambda Errors and the EMF "error" metric, threshold from context', () => {
  const { json } = synth({ alarmErrorThreshold: 5 });
  const alarms = resourcesOf(json, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties as Json);
  const lambdaErrors = alarms.find((a) => a.Namespace === 'AWS/Lambda' && a.MetricName === 'Errors');
  assert.ok(lambdaErrors, 'alarm on AWS/Lambda Errors');
  assert.equal(lambdaErrors.Threshold, 5);
  const [fnId] = onlyResource(json, 'AWS::Lambda::Function');
  assert.deepEqual(lambdaErrors.Dimensions, [{ Name: 'FunctionName', Value: { Ref: fnId } }]);
  const emf = alarms.find((a) => a.Namespace === 'Flagsync' && a.MetricName === 'error');
  assert.ok(emf, 'alarm on Flagsync/error');
  assert.equal(emf.Threshold, 5);
  assert.deepEqual(emf.Dimensions, [{ Name: 'service', Value: 'flagsync' }]);
  assert.equal(emf.Statistic, 'Sum');
});

test('outputs: ApiUrl, BucketName, FunctionName', () => {
  const { json } = synth();
  assert.deepEqual(Object.keys(json.Outputs as Json).sort(), ['ApiUrl', 'BucketName', 'FunctionName']);
  assert.match(JSON.stringify(json.Outputs.ApiUrl.Value), /execute-api/);
  const [fnId] = onlyResource(json, 'AWS::Lambda::Function');
  assert.deepEqual(json.Outputs.FunctionName.Value, { Ref: fnId });
});

for (const overrides of [{}, { apiAuth: 'none' }, { removalPolicy: 'destroy' }, { apiAuth: 'none', removalPolicy: 'destroy' }]) {
  test(`cdk-nag: 0 unacknowledged findings, every acknowledgment has a reason (${JSON.stringify(overrides)})`, () => {
    const { report } = synth(overrides);
    const reports = report.pluginReports as Json[];
    const nag = reports.find((r) => r.pluginName === 'AwsSolutions');
    assert.ok(nag, 'the AwsSolutions pack ran (it reports acknowledged findings as suppressed)');
    for (const r of reports) {
      assert.deepEqual((r.violations as Json[]).map((v) => `${r.pluginName}: ${v.ruleName} (${v.severity})`), [], 'unacknowledged findings');
    }
    for (const v of nag.suppressedViolations as Json[]) {
      assert.ok(typeof v.reason === 'string' && v.reason.length > 40, `${v.ruleName}: a real reason`);
    }
    const ids = (nag.suppressedViolations as Json[]).map((v) => v.ruleName as string);
    assert.equal(ids.includes('AwsSolutions-APIG4'), overrides.apiAuth === 'none', 'APIG4 acknowledged only when auth is off');
  });
}

test('cdk-nag: without the acknowledgments it reports exactly the acknowledged findings', () => {
  // Same stack, no acknowledgeNagFindings(): what cdk-nag finds is what nag-acknowledgments.ts accepts.
  const app = new App({ context: context({ apiAuth: 'none' }) });
  const stack = new FlagsyncStack(app, 'Bare', { config: readConfig(app.node) });
  const findings = new AwsSolutionsChecks().validateScope(stack).violations
    .flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} @ ${r.constructPath}`)).sort();
  const bucketId = stack.resolve(stack.getLogicalId(stack.flags.bucket.node.defaultChild as CfnElement)) as string;
  assert.deepEqual(findings, [
    'AwsSolutions-APIG4 @ Bare/Api/HttpApi/DefaultRoute/Resource',
    'AwsSolutions-APIG4 @ Bare/Api/HttpApi/GET--downloads--{jobId}/Resource',
    'AwsSolutions-APIG4 @ Bare/Api/HttpApi/POST--downloads/Resource',
    `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/flags/*] @ Bare/Sync/Role/DefaultPolicy/Resource`,
    `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/jobs/*] @ Bare/Sync/Role/DefaultPolicy/Resource`,
    `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/reports/*] @ Bare/Sync/Role/DefaultPolicy/Resource`,
    'AwsSolutions-SQS3 @ Bare/AsyncFailures/Queue/Resource',
    'AwsSolutions-SQS3 @ Bare/ScheduleDlq/Queue/Resource',
  ].sort());
});

test('context: strings from `-c` are parsed, bad values are rejected with the key named', () => {
  const read = (ctx: Json) => readConfig(new App({ context: ctx }).node);
  const c = read({ scheduleEnabled: 'false', memorySize: '2048', origins: '{"mirror":"https://m.example/f/"}', defaultServer: 'MIRROR' });
  assert.equal(c.scheduleEnabled, false);
  assert.equal(c.memorySize, 2048);
  assert.deepEqual(c.origins, { MIRROR: 'https://m.example/f' });
  assert.deepEqual(read({}), { ...DEFAULT_CONFIG });
  assert.throws(() => read({ apiAuth: 'cognito' }), /apiAuth/);
  assert.throws(() => read({ removalPolicy: 'snapshot' }), /removalPolicy/);
  assert.throws(() => read({ logRetentionDays: 31 }), /logRetentionDays/);
  assert.throws(() => read({ defaultServer: 'LOCAL' }), /defaultServer/);
  assert.throws(() => read({ timeoutSeconds: 20 }), /syncBudgetSeconds/);
  assert.throws(() => read({ scheduleExpression: 'every day' }), /scheduleExpression/);
  assert.throws(() => read({ memorySize: 'lots' }), /memorySize/);
});

test('the app synthesizes without cdk.json: the feature flags it relies on are its own', () => {
  const { app, stack } = createApp({ context: { 'aws:cdk:bundling-stacks': [] } });
  const template = app.synth().getStackByName(stack.stackName).template as Json;
  const buckets = Object.values(template.Resources as Json).filter((r: Json) => r.Type === 'AWS::S3::Bucket');
  assert.equal(buckets.length, 2);
  for (const b of buckets) assert.equal(b.Properties.OwnershipControls.Rules[0].ObjectOwnership, 'BucketOwnerEnforced');
});
