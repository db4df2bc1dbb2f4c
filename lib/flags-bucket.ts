// FlagsBucket: the private, versioned, SSE-S3, TLS-only bucket that holds flags/, jobs/ and reports/,
// plus a second bucket that receives its server access logs.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface FlagsBucketProps {
  readonly removalPolicy: RemovalPolicy;
  /** Noncurrent object versions are deleted after this many days. */
  readonly noncurrentVersionExpirationDays: number;
  /** Server access log objects are deleted after this many days. */
  readonly accessLogExpirationDays: number;
}

export class FlagsBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: FlagsBucketProps) {
    super(scope, id);
    const autoDeleteObjects = props.removalPolicy === RemovalPolicy.DESTROY;
    const common = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED, // access-log targets must be SSE-S3 anyway
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: props.removalPolicy,
      autoDeleteObjects,
    } satisfies s3.BucketProps;

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      ...common,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(props.accessLogExpirationDays) }],
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...common,
      versioned: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'flags-bucket/',
      lifecycleRules: [{
        id: 'expire-noncurrent-versions',
        noncurrentVersionExpiration: Duration.days(props.noncurrentVersionExpirationDays),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      }],
    });
  }
}
