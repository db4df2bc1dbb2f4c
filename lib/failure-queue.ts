// FailureQueue: an SQS queue where failed deliveries end up (an async-invoke failure destination or a
// scheduler dead-letter queue): SSE-SQS, TLS-only, 14 days retention, and an alarm as soon as it is not empty.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface FailureQueueProps {
  readonly removalPolicy: RemovalPolicy;
  /** Says what lands here; used in the alarm description. */
  readonly description: string;
}

export class FailureQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly notEmptyAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: FailureQueueProps) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: props.removalPolicy,
    });
    this.notEmptyAlarm = new cloudwatch.Alarm(this, 'NotEmpty', {
      alarmDescription: `${props.description}: at least one message is waiting`,
      metric: this.queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
