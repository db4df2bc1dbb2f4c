// FlagsyncStack, read top to bottom: bucket → failure queues → function (+ least-privilege IAM)
// → HTTP API → schedule → alarms → outputs. Settings come from FlagsyncConfig (CDK context).
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type { Construct } from 'constructs';
import { EsmFunction } from './esm-function.ts';
import { FailureQueue } from './failure-queue.ts';
import { FlagsBucket } from './flags-bucket.ts';
import { FlagsyncApi } from './flagsync-api.ts';
import type { FlagsyncConfig } from './flagsync-config.ts';

/** S3 key prefixes (the handler reads them from its environment). */
export const PREFIXES = { flags: 'flags/', jobs: 'jobs/', reports: 'reports/' } as const;
/** What the schedule sends as `source` (the handler tells scheduled runs apart by it). */
export const SCHEDULE_SOURCE = 'flagsync.schedule';
export const SERVICE_NAME = 'flagsync';
export const METRICS_NAMESPACE = 'Flagsync';

export interface FlagsyncStackProps extends StackProps {
  readonly config: FlagsyncConfig;
}

export class FlagsyncStack extends Stack {
  readonly flags: FlagsBucket;
  readonly asyncFailures: FailureQueue;
  readonly scheduleDlq: FailureQueue;
  readonly sync: EsmFunction;
  readonly api: FlagsyncApi;
  readonly schedule: scheduler.Schedule;
  readonly config: FlagsyncConfig;

  constructor(scope: Construct, id: string, props: FlagsyncStackProps) {
    super(scope, id, props);
    const config = (this.config = props.config);
    const removalPolicy = config.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const logRetention = config.logRetentionDays as logs.RetentionDays; // validated against the allowed values

    // Storage: flags/, jobs/, reports/ in one bucket; its access logs in another.
    this.flags = new FlagsBucket(this, 'Flags', {
      removalPolicy,
      noncurrentVersionExpirationDays: config.noncurrentVersionExpirationDays,
      accessLogExpirationDays: config.logRetentionDays,
    });
    const bucket = this.flags.bucket;

    // Where failed deliveries go: async invocations (jobs, schedule runs) after their retries, and
    // schedules the Scheduler could not deliver at all.
    this.asyncFailures = new FailureQueue(this, 'AsyncFailures', {
      removalPolicy,
      description: 'flagsync async invocations that failed after all retries',
    });
    this.scheduleDlq = new FailureQueue(this, 'ScheduleDlq', {
      removalPolicy,
      description: 'flagsync schedule runs the Scheduler could not deliver',
    });

    // The one function: API requests, scheduled runs and self-invoked jobs.
    this.sync = new EsmFunction(this, 'Sync', {
      entry: 'functions/handler.ts',
      functionName: `${this.stackName}-sync`,
      memorySize: config.memorySize,
      timeout: Duration.seconds(config.timeoutSeconds),
      logRetention,
      removalPolicy,
      environment: {
        FLAGS_BUCKET: bucket.bucketName,
        FLAGS_PREFIX: PREFIXES.flags,
        FLAGS_JOBS_PREFIX: PREFIXES.jobs,
        FLAGS_REPORTS_PREFIX: PREFIXES.reports,
        FLAGS_ORIGINS: JSON.stringify(config.origins),
        FLAGS_DEFAULT_SERVER: config.defaultServer,
        FLAGS_SYNC_BUDGET_MS: String(config.syncBudgetSeconds * 1000),
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      },
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
      onFailure: new SqsDestination(this.asyncFailures.queue),
      allowSelfInvoke: true, // jobs: the function invokes itself with InvocationType Event
    });
    const fn = this.sync.function;

    // Least privilege on the bucket: objects only under the three prefixes, listing only flags/ and jobs/.
    this.sync.role.addToPolicy(new iam.PolicyStatement({
      sid: 'ReadWriteFlagsJobsReports',
      actions: ['s3:GetObject', 's3:PutObject'],
      resources: Object.values(PREFIXES).map((prefix) => bucket.arnForObjects(`${prefix}*`)),
    }));
    // No s3:prefix condition: S3 answers a GET of a missing key with 404 only to a caller allowed to
    // list without one, and the handler needs that 404 (first sync, unknown job id). The bucket holds
    // nothing but flags/, jobs/ and reports/, so listing it reveals nothing more.
    this.sync.role.addToPolicy(new iam.PolicyStatement({
      sid: 'ListBucket',
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
    }));

    // HTTP API → function.
    this.api = new FlagsyncApi(this, 'Api', {
      handler: fn,
      auth: config.apiAuth,
      throttleRateLimit: config.throttleRateLimit,
      throttleBurstLimit: config.throttleBurstLimit,
      logRetention,
      removalPolicy,
    });

    // EventBridge Scheduler → function (asynchronous invoke). Own role: the target's default grant
    // would also allow `<function arn>:*` (every version), which this function does not use.
    const scheduleRole = new iam.Role(this, 'ScheduleRole', {
      description: 'EventBridge Scheduler: invoke the flagsync function, dead-letter to its queue',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    });
    scheduleRole.addToPolicy(new iam.PolicyStatement({
      actions: ['lambda:InvokeFunction'],
      resources: [fn.functionArn],
    }));
    scheduleRole.addToPolicy(new iam.PolicyStatement({
      actions: ['sqs:SendMessage'],
      resources: [this.scheduleDlq.queue.queueArn],
    }));
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: 'flagsync: periodic flag sync',
      schedule: scheduler.ScheduleExpression.expression(config.scheduleExpression),
      enabled: config.scheduleEnabled,
      target: new LambdaInvoke(fn, {
        role: scheduleRole.withoutPolicyUpdates(), // the two statements above are all it gets
        input: scheduler.ScheduleTargetInput.fromObject({ source: SCHEDULE_SOURCE, request: config.schedulePayload }),
        retryAttempts: 2,
        maxEventAge: Duration.hours(1),
        deadLetterQueue: this.scheduleDlq.queue,
      }),
    });

    // Alarms: Lambda errors (crashes, timeouts) and the handler's own EMF "error" metric.
    const period = Duration.minutes(5);
    new cloudwatch.Alarm(this, 'FunctionErrors', {
      alarmDescription: 'flagsync function: invocation errors (crashes, timeouts)',
      metric: fn.metricErrors({ period, statistic: 'Sum' }),
      threshold: config.alarmErrorThreshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    new cloudwatch.Alarm(this, 'HandlerErrors', {
      alarmDescription: 'flagsync handler: errors it counted (EMF metric "error")',
      metric: new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: 'error',
        dimensionsMap: { service: SERVICE_NAME },
        statistic: 'Sum',
        period,
      }),
      threshold: config.alarmErrorThreshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'HTTP API base URL' });
    new CfnOutput(this, 'BucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'FunctionName', { value: fn.functionName });
  }
}
