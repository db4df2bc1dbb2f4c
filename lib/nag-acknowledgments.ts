// Every cdk-nag (AwsSolutions) acknowledgment of the flagsync stack lives here, one call per finding,
// each with the reason it is accepted. Anything not listed fails `cdk synth` (errors) or shows in
// the validation report (warnings): tests assert the report is empty.
import { Stack, Validations } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import { PREFIXES, type FlagsyncStack } from './flagsync-stack.ts';

/** The name under which AwsSolutionsChecks reports (its namespace in acknowledgment ids). */
export const NAG_PLUGIN = 'AwsSolutions';

/**
 * One acknowledgment, on the construct (and so everything below it) where the finding occurs. `ruleId` is
 * the id cdk-nag reports (granular findings in brackets). It is qualified with the plugin's namespace, so
 * CDK records the finding as *suppressed* (with this reason and where it was acknowledged) in the cloud
 * assembly's validation-report.json, which keeps an audit trail, instead of cdk-nag silently dropping it.
 */
function acknowledge(scope: IConstruct, ruleId: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `${NAG_PLUGIN}::${ruleId}`, reason });
}

/** The `<LogicalId.Arn>` form in which cdk-nag prints a bucket ARN inside IAM5 findings. */
function arnToken(bucket: s3.Bucket): string {
  const cfn = bucket.node.defaultChild as s3.CfnBucket;
  return `<${Stack.of(bucket).resolve(Stack.of(bucket).getLogicalId(cfn)) as string}.Arn>`;
}

export function acknowledgeNagFindings(stack: FlagsyncStack): void {
  // --- IAM: the function's object access is scoped to key prefixes, which needs a trailing wildcard.
  for (const prefix of Object.values(PREFIXES)) {
    acknowledge(
      stack.sync.role,
      `AwsSolutions-IAM5[Resource::${arnToken(stack.flags.bucket)}/${prefix}*]`,
      `s3:GetObject/s3:PutObject are limited to keys under ${prefix} of the flags bucket; object keys are ` +
        'only known at run time (country codes, job ids, report timestamps), so a prefix wildcard is the narrowest grant.',
    );
  }

  // --- SQS: the two failure queues ARE the end of the line for failed deliveries.
  acknowledge(
    stack.asyncFailures.queue,
    'AwsSolutions-SQS3',
    'This queue is the on-failure destination of the function\'s asynchronous invocations, i.e. already a ' +
      'dead-letter queue; nothing consumes it (operators inspect it, an alarm fires when it is not empty), so ' +
      'a redrive policy would never trigger.',
  );
  acknowledge(
    stack.scheduleDlq.queue,
    'AwsSolutions-SQS3',
    'This queue is the dead-letter queue of the EventBridge Scheduler target (cdk-nag only recognises SQS ' +
      'redrive policies as DLQ usage); nothing consumes it and an alarm fires when it is not empty.',
  );

  // --- Settings that deliberately lower the defaults.
  if (stack.config.apiAuth === 'none') {
    acknowledge(
      stack.api.httpApi,
      'AwsSolutions-APIG4',
      'Context apiAuth is "none": the operator chose an unauthenticated API (e.g. a demo). Stage throttling ' +
        'still limits the request rate; deploy with apiAuth "iam" (the default) to require SigV4.',
    );
  }
  // removalPolicy "destroy" adds the CDK's auto-delete-objects provider; it is made of plain CfnResources
  // that the AwsSolutions rules do not inspect, so it needs no acknowledgment (tests check both modes).
}
