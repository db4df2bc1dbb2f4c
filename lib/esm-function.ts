// EsmFunction: a Node.js 24 / arm64 Lambda bundled as an ESM .mjs by the LOCAL esbuild (never Docker),
// with its own log group (retention, JSON logs), its own role (no managed policies) and a name fixed
// up front, so the function can be allowed to invoke itself without a circular reference.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The repository root (this file lives in lib/). */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

// An ESM bundle has no `require`; CommonJS dependencies bundled into it still call it.
const REQUIRE_BANNER = "import { createRequire as __flagsyncCreateRequire } from 'node:module'; const require = __flagsyncCreateRequire(import.meta.url);";

export interface EsmFunctionProps {
  /** Path of the TypeScript entry file, relative to the project root. */
  readonly entry: string;
  /** Name of the exported handler. @default 'handler' */
  readonly handler?: string;
  /** Physical function name: fixed so that its ARN is known before the function exists. */
  readonly functionName: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  readonly environment?: Readonly<Record<string, string>>;
  /** Modules left out of the bundle. @default [] (everything, the AWS SDK included, is bundled and pinned) */
  readonly externalModules?: string[];
  /** Emit an external source map (sourcesContent off) and run with --enable-source-maps. @default true */
  readonly sourceMap?: boolean;
  /** Async invocation settings (self-invoked jobs and EventBridge Scheduler both invoke asynchronously). */
  readonly retryAttempts?: number;
  readonly maxEventAge?: Duration;
  readonly onFailure?: lambda.IDestination;
  /** Allow the function to invoke itself (lambda:InvokeFunction on its own unqualified ARN). @default false */
  readonly allowSelfInvoke?: boolean;
}

export class EsmFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  /** The function's ARN computed from its name (no reference to the function resource). */
  readonly arnFromName: string;

  constructor(scope: Construct, id: string, props: EsmFunctionProps) {
    super(scope, id);
    const sourceMap = props.sourceMap ?? true;

    // No fixed name: a retained /aws/lambda/<name> group would block re-creating the stack.
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });

    // Own role instead of the default one, which would carry the AWSLambdaBasicExecutionRole managed policy.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${props.functionName}`,
    });
    this.logGroup.grantWrite(this.role);

    this.arnFromName = Stack.of(this).formatArn({
      service: 'lambda',
      resource: 'function',
      resourceName: props.functionName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    if (props.allowSelfInvoke) {
      this.role.addToPolicy(new iam.PolicyStatement({
        sid: 'InvokeSelfAsync',
        actions: ['lambda:InvokeFunction'],
        resources: [this.arnFromName],
      }));
    }

    this.function = new NodejsFunction(this, 'Function', {
      functionName: props.functionName,
      entry: join(PROJECT_ROOT, props.entry),
      handler: props.handler ?? 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        ...props.environment,
        ...(sourceMap ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
      },
      retryAttempts: props.retryAttempts,
      maxEventAge: props.maxEventAge,
      onFailure: props.onFailure,
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap,
        sourceMapMode: SourceMapMode.DEFAULT,
        sourcesContent: false,
        banner: REQUIRE_BANNER,
        externalModules: props.externalModules ?? [],
        forceDockerBundling: false,
      },
    });
  }
}
