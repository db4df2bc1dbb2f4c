// CDK app entry (`cdk synth` runs `npx tsx bin/app.ts`): context → FlagsyncStack, checked by cdk-nag.
// createApp() is exported so the tests build exactly this app (with their own context).
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readConfig } from '../lib/flagsync-config.ts';
import { FlagsyncStack } from '../lib/flagsync-stack.ts';
import { acknowledgeNagFindings } from '../lib/nag-acknowledgments.ts';

/** Feature flags the stack relies on, so an app built without cdk.json (tests, other tools) synthesizes the same. */
const REQUIRED_FLAGS = {
  // access logs delivered under a bucket policy, so both buckets can keep ACLs off (BUCKET_OWNER_ENFORCED)
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
};

export function createApp(props?: AppProps): { app: App; stack: FlagsyncStack } {
  const app = new App({ ...props, context: { ...REQUIRED_FLAGS, ...props?.context } });
  const config = readConfig(app.node);
  // Environment-agnostic on purpose: synth never needs AWS credentials or lookups.
  const stack = new FlagsyncStack(app, config.stackName, {
    config,
    description: 'flagsync: download country flags into S3 (API Gateway HTTP API, Lambda, EventBridge Scheduler)',
  });
  acknowledgeNagFindings(stack);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}

function isMain(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}
if (isMain()) createApp().app.synth();
