// FlagsyncApi: the HTTP API in front of the function. POST /downloads, GET /downloads/{jobId} and a
// $default catch-all all reach the same Lambda (payload format 2.0), so wrong paths and methods get the
// handler's JSON 404/405 instead of API Gateway's bare "Not Found". IAM auth unless turned off,
// throttling and JSON access logs on the $default stage.
import { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface FlagsyncApiProps {
  readonly handler: lambda.IFunction;
  /** 'iam': every route needs SigV4-signed requests (execute-api:Invoke). 'none': open API. */
  readonly auth: 'iam' | 'none';
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

// HTTP API $context variables (the REST API ones in AccessLogFormat.jsonWithStandardFields differ).
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  sourceIp: '$context.identity.sourceIp',
  userArn: '$context.identity.userArn',
  httpMethod: '$context.httpMethod',
  path: '$context.path',
  routeKey: '$context.routeKey',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationStatus: '$context.integrationStatus',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
  errorMessage: '$context.error.message',
};

export class FlagsyncApi extends Construct {
  readonly httpApi: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly accessLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: FlagsyncApiProps) {
    super(scope, id);
    const integration = new HttpLambdaIntegration('Handler', props.handler, {
      payloadFormatVersion: apigw.PayloadFormatVersion.VERSION_2_0,
    });

    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      description: 'flagsync: download flags into S3',
      defaultIntegration: integration, // the $default route
      defaultAuthorizer: props.auth === 'iam' ? new HttpIamAuthorizer() : new apigw.HttpNoneAuthorizer(),
      createDefaultStage: false, // the stage below carries throttling and access logs
    });
    this.httpApi.addRoutes({ path: '/downloads', methods: [apigw.HttpMethod.POST], integration });
    this.httpApi.addRoutes({ path: '/downloads/{jobId}', methods: [apigw.HttpMethod.GET], integration });

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.stage = this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit, burstLimit: props.throttleBurstLimit },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
  }

  /** The invoke URL of the $default stage (ends with "/"). */
  get url(): string {
    return this.stage.url;
  }
}
