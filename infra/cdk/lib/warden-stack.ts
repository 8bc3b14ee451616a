// Warden's stack in CDK: the same resources, permissions and protections as infra/sam/template.yaml.
// tests/it/infra.rs checks both against the code; test/warden-stack.test.ts checks this one's shape.
//
// Who may do what (README, "Who may do what"): the detectors' roles contain by rule over the governance bus;
// people in OperatorRoleArn ask, approve, restore, release and set the kill switch, signed, through the break-glass
// function URL; a dedicated role you create may break glass --here (recorded as a direct action); auditors read
// the table and the digests (DigestAuditorPermissions); only the digest writer signs digests.

import * as path from "path";
import * as fs from "fs";
import {
  Annotations,
  CfnCondition,
  CfnOutput,
  CfnParameter,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  StackProps,
  Token,
  Validations,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as actions,
  aws_dynamodb as dynamodb,
  aws_events as events,
  aws_events_targets as targets,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_lambda_event_sources as sources,
  aws_logs as logs,
  aws_s3 as s3,
  aws_sns as sns,
  aws_sqs as sqs,
} from "aws-cdk-lib";
import { Construct } from "constructs";

/** The ledger table's keys and index: the same as `warden ledger schema` prints (a test compares them). */
const TABLE = {
  partitionKey: { name: "pk", type: dynamodb.AttributeType.STRING },
  sortKey: { name: "sk", type: dynamodb.AttributeType.STRING },
  index: {
    indexName: "gsi1",
    partitionKey: { name: "gsi1pk", type: dynamodb.AttributeType.STRING },
    sortKey: { name: "gsi1sk", type: dynamodb.AttributeType.STRING },
  },
};

/** One Warden function: its crate (= binary) and what it consumes. */
interface FunctionSpec {
  id: string;
  binary: string;
  description: string;
  /** Event patterns on the default bus (AWS sources), the governance bus (Warden's own) and the ingest bus (producers
   * outside Warden, which feed detectors only). */
  aws?: events.EventPattern;
  governance?: events.EventPattern;
  ingest?: events.EventPattern;
  /** The break-glass function: SageMaker permissions, no bus publishing, its own timeout and concurrency. */
  breakGlass?: boolean;
}

const FUNCTIONS: FunctionSpec[] = [
  {
    id: "SageMakerDetector",
    binary: "warden-sagemaker",
    description: "Records SageMaker approvals, deployments, jobs and model cards; gates ungoverned approvals.",
    aws: {
      source: ["aws.sagemaker"],
      detailType: [
        "SageMaker Model Package State Change",
        "SageMaker Endpoint State Change",
        "SageMaker Endpoint Deployment State Change",
        "SageMaker Training Job State Change",
        "SageMaker Processing Job State Change",
        "SageMaker Model Building Pipeline Execution Status Change",
        "SageMaker Model Card State Change",
      ],
    },
  },
  {
    id: "ConfigDetector",
    binary: "warden-config",
    description: "Records AWS Config compliance changes on models' resources and alerts by risk.",
    aws: { source: ["aws.config"], detailType: ["Config Rules Compliance Change", "Config Configuration Item Change"] },
  },
  {
    id: "MacieDetector",
    binary: "warden-macie",
    description: "Gates models trained on data where Macie found sensitive data (never reads sample values).",
    aws: { source: ["aws.macie"], detailType: ["Macie Finding"] },
  },
  {
    id: "GuardDutyDetector",
    binary: "warden-guardduty",
    description: "Weighs GuardDuty findings against the affected model's risk; cuts off high-risk endpoints.",
    aws: {
      source: ["aws.guardduty"],
      detailType: ["GuardDuty Finding", "GuardDuty Malware Protection Object Scan Result"],
    },
  },
  {
    id: "DriftDetector",
    binary: "warden-drift",
    description: "Judges model quality and endpoint health alarms by each model's risk; rolls back or cuts off.",
    // Only alarms about a model invoke the function (warden_core::event::cloudwatch::alarm_rule_detail_filter): a
    // SageMaker endpoint dimension on any metric, or the warden:<quality|health>:<endpoint> naming convention.
    aws: {
      source: ["aws.cloudwatch"],
      detailType: ["CloudWatch Alarm State Change"],
      detail: {
        $or: [
          { configuration: { metrics: { metricStat: { metric: { dimensions: { Endpoint: [{ exists: true }] } } } } } },
          { configuration: { metrics: { metricStat: { metric: { dimensions: { EndpointName: [{ exists: true }] } } } } } },
          { alarmName: [{ prefix: "warden:" }] },
          { configuration: { alarmRule: [{ wildcard: "*warden:*" }] } },
        ],
      },
    },
    ingest: { source: ["warden.monitor"], detailType: ["Warden Drift Detected"] },
  },
  {
    id: "BreakGlass",
    binary: "warden-breakglass",
    description: "Rolls back, cuts off or restores endpoints and gates or releases model packages, verified.",
    aws: { source: ["aws.sagemaker"], detailType: ["SageMaker Endpoint State Change"] },
    governance: {
      source: ["warden.governance"],
      detailType: ["Warden Break-Glass Requested", "Warden Break-Glass Approved"],
    },
    breakGlass: true,
  },
];

export interface WardenStackProps extends StackProps {
  /**
   * Where `cargo lambda build --release --arm64` left the binaries (`<dir>/<binary>/bootstrap`). `undefined`: a
   * placeholder, for synthesising the template in checks without building Rust (never deploy that).
   */
  lambdaDir?: string;
}

export class WardenStack extends Stack {
  constructor(scope: Construct, id: string, props: WardenStackProps = {}) {
    super(scope, id, props);

    const alertEmail = new CfnParameter(this, "AlertEmail", {
      type: "String",
      default: "",
      description: "On-call email subscribed to the alert topic (confirm the subscription email). Empty for none.",
    });
    const policy = new CfnParameter(this, "Policy", {
      type: "String",
      default: "",
      description: "A whole Warden policy as TOML (`warden policy default` prints the built-in one). Empty for built-in.",
    });
    const killSwitch = new CfnParameter(this, "KillSwitch", {
      type: "String",
      default: "false",
      allowedValues: ["true", "false"],
      description: "true: Warden decides and records, but every action is shadow only and break-glass touches nothing.",
    });
    const mode = new CfnParameter(this, "Mode", {
      type: "String",
      default: "shadow",
      allowedValues: ["shadow", "policy"],
      description:
        "shadow: observe only (every action recorded as what Warden would have done). policy: act as the policy " +
        "says. Start in shadow, review the decisions, then switch.",
    });
    const verifyPolls = new CfnParameter(this, "VerifyPolls", {
      type: "Number",
      default: 20,
      minValue: 1,
      maxValue: 200,
      description: "DescribeEndpoint looks (every 3 s) per break-glass invocation while verifying an action.",
    });

    // One customer-managed key for the ledger, alerts, queues and logs; kept when the stack goes.
    const key = new kms.Key(this, "WardenKey", {
      description: "Warden ledger, alerts, queues and logs",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "ServicesEncryptForWarden",
        principals: [
          new iam.ServicePrincipal("events.amazonaws.com"),
          new iam.ServicePrincipal("cloudwatch.amazonaws.com"),
          new iam.ServicePrincipal("sns.amazonaws.com"),
        ],
        actions: ["kms:Decrypt", "kms:GenerateDataKey"],
        resources: ["*"],
        conditions: { StringEquals: { "aws:SourceAccount": this.account } },
      }),
    );
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "LogsEncryptWardenLogs",
        principals: [new iam.ServicePrincipal(`logs.${this.region}.amazonaws.com`)],
        actions: ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        resources: ["*"],
        conditions: {
          ArnLike: {
            "kms:EncryptionContext:aws:logs:arn": `arn:${this.partition}:logs:${this.region}:${this.account}:log-group:/aws/lambda/warden-*`,
          },
        },
      }),
    );

    // The governance ledger: inventory, hash-chained audit trail, break-glass records. Kept on stack deletion.
    const table = new dynamodb.Table(this, "LedgerTable", {
      partitionKey: TABLE.partitionKey,
      sortKey: TABLE.sortKey,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    table.addGlobalSecondaryIndex({ ...TABLE.index, projectionType: dynamodb.ProjectionType.ALL });

    const topic = new sns.Topic(this, "AlertTopic", { displayName: "Warden alerts", masterKey: key, enforceSSL: true });
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "AlarmsPublish",
        principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [topic.topicArn],
        conditions: { StringEquals: { "aws:SourceAccount": this.account } },
      }),
    );
    const hasEmail = new CfnCondition(this, "HasAlertEmail", {
      expression: Fn.conditionNot(Fn.conditionEquals(alertEmail.valueAsString, "")),
    });
    const subscription = new sns.CfnSubscription(this, "AlertEmailSubscription", {
      topicArn: topic.topicArn,
      protocol: "email",
      endpoint: alertEmail.valueAsString,
    });
    subscription.cfnOptions.condition = hasEmail;

    // Warden's own events. Within one account an IAM allow is enough to put events on a bus, so its policy (below,
    // once the roles exist) denies everyone but the detectors' roles and the operator role: break-glass trusts only
    // what Warden and its operators put there.
    const bus = new events.EventBus(this, "GovernanceBus", { eventBusName: `warden-governance-${this.stackName}` });
    bus.archive("GovernanceBusArchive", {
      description: "Warden's governance events",
      retention: Duration.days(365),
      eventPattern: { source: ["warden.governance"] },
    });
    // Producers outside Warden (drift monitors; later, member accounts): they feed the detectors, never break-glass.
    const ingestBus = new events.EventBus(this, "IngestBus", { eventBusName: `warden-ingest-${this.stackName}` });
    ingestBus.archive("IngestBusArchive", {
      description: "Events from producers outside Warden",
      retention: Duration.days(365),
      eventPattern: { source: ["warden.monitor"] },
    });
    const operatorRole = new CfnParameter(this, "OperatorRoleArn", {
      type: "String",
      default: "",
      description:
        "The on-call operator role that may call the break-glass function URL (warden break-glass ... --url, " +
        "signed with the caller's own credentials: the function records the person AWS authenticates). Empty: " +
        "nobody may.",
    });
    const personRoles = new CfnParameter(this, "PersonRoles", {
      type: "String",
      default: "",
      description:
        "Comma-separated role names whose sessions count as people at the function URL: each role's trust policy " +
        "must require sts:RoleSessionName = ${aws:username}. IAM users and IAM Identity Center users always count.",
    });
    const hasOperatorRole = new CfnCondition(this, "HasOperatorRole", {
      expression: Fn.conditionNot(Fn.conditionEquals(operatorRole.valueAsString, "")),
    });
    const publishers: string[] = [];
    const defaultBus = events.EventBus.fromEventBusName(this, "DefaultBus", "default");
    new events.Archive(this, "DefaultBusArchive", {
      sourceEventBus: defaultBus,
      description: "AWS events Warden consumes",
      retention: Duration.days(365),
      eventPattern: { source: ["aws.sagemaker", "aws.config", "aws.macie", "aws.guardduty", "aws.cloudwatch"] },
    });

    // Invocations that failed after Lambda's retries, and events EventBridge could not deliver. Both are the last
    // stop (a dead-letter queue of their own would only move the problem); alarms watch them.
    const queue = (id: string) =>
      new sqs.Queue(this, id, {
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: key,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
    const failedInvocations = queue("FailedInvocationsQueue");
    const undeliveredEvents = queue("UndeliveredEventsQueue");
    for (const q of [failedInvocations, undeliveredEvents]) {
      Validations.of(q).acknowledge({
        id: "AwsSolutions-SQS3",
        reason: "This queue is itself a dead-letter queue, watched by an alarm.",
      });
    }

    const functions: lambda.Function[] = [];
    let breakGlassLogs: logs.ILogGroup | undefined;
    for (const spec of FUNCTIONS) {
      const logGroup = new logs.LogGroup(this, `${spec.id}Logs`, {
        logGroupName: `/aws/lambda/${spec.binary}-${this.stackName}`,
        retention: logs.RetentionDays.ONE_YEAR,
        encryptionKey: key,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const role = new iam.Role(this, `${spec.id}Role`, {
        assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
        description: `${spec.binary}: least privilege`,
      });
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: "Logs",
          actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
          resources: [logGroup.logGroupArn],
        }),
      );
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: "Tracing",
          actions: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
          resources: ["*"],
        }),
      );
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: "Ledger",
          actions: [
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
          ],
          resources: [table.tableArn, `${table.tableArn}/index/${TABLE.index.indexName}`],
        }),
      );
      // Defence in depth: no function may update or delete an item in a chain's partition (entries, heads). IAM
      // cannot force a condition on a put, so this narrows who can try; `warden ledger verify` is the control.
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: "NoEditsToAuditEntries",
          effect: iam.Effect.DENY,
          actions: ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"],
          resources: [table.tableArn],
          conditions: { "ForAnyValue:StringLike": { "dynamodb:LeadingKeys": ["CHAIN#*"] } },
        }),
      );
      role.addToPolicy(new iam.PolicyStatement({ sid: "Alerts", actions: ["sns:Publish"], resources: [topic.topicArn] }));
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: "FailedInvocations",
          actions: ["sqs:SendMessage"],
          resources: [failedInvocations.queueArn],
        }),
      );
      role.addToPolicy(
        new iam.PolicyStatement({ sid: "Key", actions: ["kms:Decrypt", "kms:GenerateDataKey"], resources: [key.keyArn] }),
      );
      const environment: Record<string, string> = {
        WARDEN_TABLE_NAME: table.tableName,
        WARDEN_ALERT_TOPIC_ARN: topic.topicArn,
        WARDEN_POLICY: policy.valueAsString,
        WARDEN_KILL_SWITCH: killSwitch.valueAsString,
        WARDEN_MODE: mode.valueAsString,
        // The Lambda image's CA bundle: rustls reads it at start instead of probing several paths.
        SSL_CERT_FILE: "/etc/pki/tls/certs/ca-bundle.crt",
      };
      if (spec.breakGlass) {
        environment.WARDEN_VERIFY_POLLS = Token.asString(verifyPolls.valueAsNumber);
        environment.WARDEN_PERSON_ROLES = personRoles.valueAsString;
        this.allowBreakGlass(role);
      } else {
        environment.WARDEN_EVENT_BUS_NAME = bus.eventBusName;
        // Models with no account run here: an event from another account never reaches them.
        environment.WARDEN_HOME_ACCOUNT = this.account;
        environment.WARDEN_HOME_REGION = this.region;
        role.addToPolicy(
          new iam.PolicyStatement({ sid: "GovernanceEvents", actions: ["events:PutEvents"], resources: [bus.eventBusArn] }),
        );
      }
      const fn = new lambda.Function(this, spec.id, {
        functionName: `${spec.binary}-${this.stackName}`,
        description: spec.description,
        runtime: lambda.Runtime.PROVIDED_AL2023,
        architecture: lambda.Architecture.ARM_64,
        handler: "bootstrap",
        code: code(props.lambdaDir, spec.binary),
        memorySize: 256,
        // The break-glass timeout stays well under the policy's 15-minute action lock.
        timeout: Duration.seconds(spec.breakGlass ? 120 : 30),
        reservedConcurrentExecutions: spec.breakGlass ? 5 : 10,
        tracing: lambda.Tracing.ACTIVE,
        loggingFormat: lambda.LoggingFormat.JSON,
        applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
        systemLogLevelV2: lambda.SystemLogLevel.WARN,
        logGroup,
        role,
        environment,
        environmentEncryption: key,
        deadLetterQueue: failedInvocations,
        retryAttempts: 2,
        maxEventAge: Duration.hours(1),
      });
      // The crate the function runs, for the consistency test (CDK names assets by hash, not by binary).
      const cfnFunction = fn.node.defaultChild as lambda.CfnFunction;
      cfnFunction.addMetadata("warden:binary", spec.binary);
      cfnFunction.addMetadata("checkov", {
        skip: [{ id: "CKV_AWS_117", comment: "Calls only AWS APIs over TLS with IAM; no private resource to guard (README, Deploying)" }],
      });
      functions.push(fn);
      if (spec.breakGlass) {
        breakGlassLogs = logGroup;
        this.breakGlassUrl(fn, operatorRole, hasOperatorRole);
      }

      // Break-glass is invoked by its rules; each detector reads its events through its own queue, so a burst
      // (10,000 findings in a minute) waits there instead of being throttled into a dead-letter queue. Batches of
      // up to 10; a message whose event failed is retried alone (partial batch failures), and after 5 receives
      // moves to the failed-invocations queue. Visibility: six times the function's timeout, as AWS advises.
      let target: events.IRuleTarget;
      if (spec.breakGlass) {
        target = new targets.LambdaFunction(fn, {
          deadLetterQueue: undeliveredEvents,
          retryAttempts: 20,
          maxEventAge: Duration.hours(1),
        });
      } else {
        const inbox = new sqs.Queue(this, `${spec.id.replace("Detector", "")}Queue`, {
          encryption: sqs.QueueEncryption.KMS,
          encryptionMasterKey: key,
          enforceSSL: true,
          retentionPeriod: Duration.days(14),
          visibilityTimeout: Duration.seconds(180),
          deadLetterQueue: { queue: failedInvocations, maxReceiveCount: 5 },
        });
        fn.addEventSource(
          new sources.SqsEventSource(inbox, {
            batchSize: 10,
            maxBatchingWindow: Duration.seconds(1),
            reportBatchItemFailures: true,
            maxConcurrency: 10,
          }),
        );
        target = new targets.SqsQueue(inbox, {
          deadLetterQueue: undeliveredEvents,
          retryAttempts: 10,
          maxEventAge: Duration.hours(24),
        });
      }
      if (spec.aws) {
        new events.Rule(this, `${spec.id}AwsRule`, { eventPattern: spec.aws, targets: [target] });
      }
      if (spec.governance) {
        new events.Rule(this, `${spec.id}GovernanceRule`, { eventBus: bus, eventPattern: spec.governance, targets: [target] });
      }
      if (spec.ingest) {
        new events.Rule(this, `${spec.id}IngestRule`, { eventBus: ingestBus, eventPattern: spec.ingest, targets: [target] });
      }
      if (!spec.breakGlass) publishers.push(role.roleArn);
      Validations.of(role).acknowledge({
        id: "AwsSolutions-IAM5[Resource::*]",
        reason: "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource to scope to.",
      });
    }

    functions.push(this.digestWriter(props, key, table, topic, failedInvocations, undeliveredEvents));

    if (breakGlassLogs === undefined) throw new Error("no break-glass function in FUNCTIONS");
    new events.CfnEventBusPolicy(this, "GovernanceBusOnlyWarden", {
      eventBusName: bus.eventBusName,
      statementId: "OnlyWardenPutsEvents",
      statement: {
        Effect: "Deny",
        Principal: "*",
        Action: "events:PutEvents",
        Resource: bus.eventBusArn,
        Condition: {
          ArnNotEquals: {
            "aws:PrincipalArn": publishers,
          },
        },
      },
    });
    this.alarms(topic, failedInvocations, undeliveredEvents, functions, breakGlassLogs);
  }

  /**
   * Signed digests anchor the ledger outside the table (`warden ledger verify --digests`): every hour, the head of
   * every chain, linked to the previous digest, signed by a key only this function may use (its key policy says so),
   * kept in a bucket under Object Lock in compliance mode, where nobody can change or delete one.
   */
  private digestWriter(
    props: WardenStackProps,
    key: kms.Key,
    table: dynamodb.Table,
    topic: sns.Topic,
    failedInvocations: sqs.Queue,
    undeliveredEvents: sqs.Queue,
  ): lambda.Function {
    const retention = new CfnParameter(this, "DigestRetentionDays", {
      type: "Number",
      default: 365,
      minValue: 1,
      description:
        "How long each signed ledger digest is locked in its bucket (S3 Object Lock, compliance mode: nobody, the " +
        "account's root included, can delete or change it before then).",
    });
    const binary = "warden-digest";
    const logGroup = new logs.LogGroup(this, "DigestWriterLogs", {
      logGroupName: `/aws/lambda/${binary}-${this.stackName}`,
      retention: logs.RetentionDays.ONE_YEAR,
      encryptionKey: key,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, "DigestWriterRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `${binary}: least privilege`,
    });
    const signingKey = new kms.Key(this, "DigestKey", {
      description: "Warden ledger digest signing (ECDSA P-256)",
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      removalPolicy: RemovalPolicy.RETAIN,
      policy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: "AccountAdministersButCannotSign",
            principals: [new iam.AccountRootPrincipal()],
            notActions: ["kms:Sign"],
            resources: ["*"],
          }),
          new iam.PolicyStatement({
            sid: "OnlyTheDigestWriterSigns",
            principals: [new iam.ArnPrincipal(role.roleArn)],
            actions: ["kms:Sign", "kms:GetPublicKey"],
            resources: ["*"],
          }),
          // A grant would hand signing to anyone its creator names, past this policy: nothing here needs one.
          new iam.PolicyStatement({
            sid: "NoGrants",
            effect: iam.Effect.DENY,
            principals: [new iam.AnyPrincipal()],
            actions: ["kms:CreateGrant"],
            resources: ["*"],
          }),
        ],
      }),
    });
    const bucket = new s3.Bucket(this, "DigestBucket", {
      objectLockEnabled: true,
      // The parameter's days replace these below (CDK checks a duration's value when it synthesises).
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(365)),
      versioned: true,
      // Digests hold hashes and signatures, nothing secret: S3-managed encryption lets an auditor read them with S3
      // permissions alone, never the key that protects Warden's queues, logs and alerts.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    (bucket.node.defaultChild as s3.CfnBucket).addMetadata("checkov", {
      skip: [
        { id: "CKV_AWS_18", comment: "Written once an hour by one role; CloudTrail data events are the access log of record." },
        {
          id: "CKV_AWS_145",
          comment: "Digests hold hashes and signatures, no secret; S3-managed keys let auditors read them with S3 permissions alone.",
        },
      ],
    });
    (bucket.node.defaultChild as s3.CfnBucket).addPropertyOverride(
      "ObjectLockConfiguration.Rule.DefaultRetention.Days",
      retention.valueAsNumber,
    );
    bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "OnlyTheDigestWriterWrites",
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ["s3:PutObject"],
        resources: [bucket.arnForObjects("*")],
        conditions: { ArnNotEquals: { "aws:PrincipalArn": role.roleArn } },
      }),
    );
    // Never a second version over a digest (readers take the first version anyway).
    bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "OnlyNewDigests",
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ["s3:PutObject"],
        resources: [bucket.arnForObjects("*")],
        conditions: { Null: { "s3:if-none-match": "true" } },
      }),
    );
    // A delete marker would hide a digest from listings, so nobody deletes.
    bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "NobodyDeletes",
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ["s3:DeleteObject", "s3:DeleteObjectVersion"],
        resources: [bucket.arnForObjects("*")],
      }),
    );
    Validations.of(bucket).acknowledge({
      id: "AwsSolutions-S1",
      reason: "Written once an hour by one role; CloudTrail data events are the access log of record.",
    });
    const statements: [string, string[], string[]][] = [
      ["Logs", ["logs:CreateLogStream", "logs:PutLogEvents"], [logGroup.logGroupArn]],
      ["Tracing", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]],
      ["ReadLedger", ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"], [table.tableArn]],
      ["Digests", ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], [bucket.arnForObjects("ledger/*")]],
      ["ListDigests", ["s3:ListBucket", "s3:ListBucketVersions"], [bucket.bucketArn]],
      ["Alerts", ["sns:Publish"], [topic.topicArn]],
      ["FailedInvocations", ["sqs:SendMessage"], [failedInvocations.queueArn]],
      ["Key", ["kms:Decrypt", "kms:GenerateDataKey"], [key.keyArn]],
    ];
    for (const [sid, actions, resources] of statements) {
      role.addToPolicy(new iam.PolicyStatement({ sid, actions, resources }));
    }
    Validations.of(role).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason: "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource to scope to.",
    });
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(bucket.node.defaultChild as s3.CfnBucket)}.Arn>/ledger/*]`,
      reason: "The digests are new objects under one prefix, numbered as they are written.",
    });
    const fn = new lambda.Function(this, "DigestWriter", {
      functionName: `${binary}-${this.stackName}`,
      description: "Signs a digest of every ledger chain's head in KMS and keeps it in S3 under Object Lock.",
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.ARM_64,
      handler: "bootstrap",
      code: code(props.lambdaDir, binary),
      memorySize: 256,
      timeout: Duration.seconds(300),
      // One writer: digests are numbered in sequence.
      reservedConcurrentExecutions: 1,
      tracing: lambda.Tracing.ACTIVE,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      logGroup,
      role,
      environment: {
        WARDEN_TABLE_NAME: table.tableName,
        WARDEN_ALERT_TOPIC_ARN: topic.topicArn,
        WARDEN_POLICY: (this.node.findChild("Policy") as CfnParameter).valueAsString,
        WARDEN_KILL_SWITCH: (this.node.findChild("KillSwitch") as CfnParameter).valueAsString,
        WARDEN_MODE: (this.node.findChild("Mode") as CfnParameter).valueAsString,
        WARDEN_DIGEST_KEY_ID: signingKey.keyArn,
        WARDEN_DIGEST_BUCKET: bucket.bucketName,
        SSL_CERT_FILE: "/etc/pki/tls/certs/ca-bundle.crt",
      },
      environmentEncryption: key,
      deadLetterQueue: failedInvocations,
      // A refusal is news, not a glitch: page once, and the next hour tries again.
      retryAttempts: 0,
      maxEventAge: Duration.hours(1),
    });
    const cfnFunction = fn.node.defaultChild as lambda.CfnFunction;
    cfnFunction.addMetadata("warden:binary", binary);
    cfnFunction.addMetadata("checkov", {
      skip: [{ id: "CKV_AWS_117", comment: "Calls only AWS APIs over TLS with IAM; no private resource to guard (README, Deploying)" }],
    });
    new events.Rule(this, "DigestWriterSchedule", {
      schedule: events.Schedule.rate(Duration.hours(1)),
      targets: [new targets.LambdaFunction(fn, { deadLetterQueue: undeliveredEvents, retryAttempts: 2 })],
    });
    new CfnOutput(this, "DigestBucketName", {
      description: "Signed ledger digests (warden ledger verify --digests s3://NAME/ledger --public-key KEY.pub)",
      value: bucket.bucketName,
    });
    new CfnOutput(this, "DigestAuditorPermissions", {
      description: "What verifying the digests takes (on the bucket, its objects and the signing key)",
      value: "s3:ListBucket s3:ListBucketVersions s3:GetObject s3:GetObjectVersion kms:GetPublicKey",
    });
    new CfnOutput(this, "DigestKeyArn", {
      description: "The digest signing key; pin its public half (warden ledger digest-key --kms-key ARN --out KEY)",
      value: signingKey.keyArn,
    });
    return fn;
  }

  /**
   * People reach break-glass only through its function URL, signed (AuthType AWS_IAM): Lambda verifies the SigV4
   * signature and passes the signer's ARN, which the function records. Only the operator role may invoke it, and
   * its lambda:InvokeFunction is granted only through the URL (InvokedViaFunctionUrl), so it cannot hand the
   * function a request context of its own making.
   */
  private breakGlassUrl(fn: lambda.Function, operatorRole: CfnParameter, hasOperatorRole: CfnCondition) {
    const url = new lambda.CfnUrl(this, "BreakGlassFunctionUrl", { authType: "AWS_IAM", targetFunctionArn: fn.functionArn });
    const invokeUrl = new lambda.CfnPermission(this, "BreakGlassUrlInvokeUrl", {
      action: "lambda:InvokeFunctionUrl",
      functionName: fn.functionArn,
      principal: operatorRole.valueAsString,
      functionUrlAuthType: "AWS_IAM",
    });
    const invoke = new lambda.CfnPermission(this, "BreakGlassUrlInvoke", {
      action: "lambda:InvokeFunction",
      functionName: fn.functionArn,
      principal: operatorRole.valueAsString,
      invokedViaFunctionUrl: true,
    });
    for (const permission of [invokeUrl, invoke]) {
      permission.cfnOptions.condition = hasOperatorRole;
      Annotations.of(permission).acknowledgeWarning(
        "CloudFormation-Validate::W1030",
        "Created only when OperatorRoleArn is given (HasOperatorRole): the empty default never reaches Principal.",
      );
    }
    new CfnOutput(this, "BreakGlassUrl", {
      description: "Where people send break-glass requests and approvals (warden break-glass ... --url URL)",
      value: url.attrFunctionUrl,
    });
  }

  /** SageMaker for the break-glass function alone: changes only to endpoints tagged warden:managed=true. */
  private allowBreakGlass(role: iam.Role) {
    const arn = (resource: string) => `arn:${this.partition}:sagemaker:${this.region}:${this.account}:${resource}`;
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: "Observe",
        actions: [
          "sagemaker:DescribeEndpoint",
          "sagemaker:DescribeEndpointConfig",
          "sagemaker:DescribeModelPackage",
          "sagemaker:ListTags",
        ],
        resources: [arn("endpoint/*"), arn("endpoint-config/*"), arn("model-package/*"), arn("model-package-group/*")],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: "ChangeManagedEndpoints",
        actions: [
          "sagemaker:UpdateEndpoint",
          "sagemaker:UpdateEndpointWeightsAndCapacities",
          "sagemaker:DeleteEndpoint",
        ],
        resources: [arn("endpoint/*")],
        conditions: { StringEquals: { "aws:ResourceTag/warden:managed": "true" } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: "RecreateManagedEndpoints",
        actions: ["sagemaker:CreateEndpoint", "sagemaker:AddTags"],
        resources: [arn("endpoint/*")],
        conditions: { StringEquals: { "aws:RequestTag/warden:managed": "true" } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: "UseEndpointConfigs",
        actions: ["sagemaker:UpdateEndpoint", "sagemaker:CreateEndpoint"],
        resources: [arn("endpoint-config/*")],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: "HoldAndReleaseApprovals",
        actions: ["sagemaker:UpdateModelPackage"],
        resources: [arn("model-package/*")],
      }),
    );
    for (const resource of ["endpoint/*", "endpoint-config/*", "model-package/*", "model-package-group/*"]) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:${this.region}:${this.account}:${resource}]`,
        reason:
          "Endpoints are chosen at run time by incident; changes need the warden:managed tag (IAM condition), " +
          "configs are untagged, and Warden checks the package group's tag before UpdateModelPackage.",
      });
    }
  }

  /** Pages on-call when anything is left in a dead-letter queue, any function errs, or a break-glass action fails. */
  private alarms(
    topic: sns.Topic,
    failed: sqs.Queue,
    undelivered: sqs.Queue,
    functions: lambda.Function[],
    breakGlassLogs: logs.ILogGroup,
  ) {
    const page = new actions.SnsAction(topic);
    const pageOnAny = (id: string, description: string, metric: cloudwatch.IMetric) =>
      new cloudwatch.Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold: 0,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(page);
    const depth = (q: sqs.Queue) =>
      q.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: "Maximum" });
    pageOnAny(
      "FailedInvocationsAlarm",
      "Warden invocations failed after retries (see the failed-invocations queue).",
      depth(failed),
    );
    pageOnAny(
      "UndeliveredEventsAlarm",
      "EventBridge could not deliver events to Warden (see the undelivered-events queue).",
      depth(undelivered),
    );

    const usingMetrics: Record<string, cloudwatch.IMetric> = {};
    functions.forEach((fn, i) => {
      usingMetrics[`f${i}`] = fn.metricErrors({ period: Duration.minutes(5), statistic: "Sum" });
    });
    pageOnAny(
      "FunctionErrorsAlarm",
      "A Warden function returned errors (each is retried; see its logs).",
      new cloudwatch.MathExpression({ expression: "SUM(METRICS())", usingMetrics, label: "Warden function errors" }),
    );

    const failedActions = new logs.MetricFilter(this, "FailedBreakGlassMetric", {
      logGroup: breakGlassLogs,
      filterPattern: logs.FilterPattern.stringValue("$.fields.phase", "=", "failed"),
      metricNamespace: "Warden",
      metricName: "FailedBreakGlassActions",
      metricValue: "1",
      defaultValue: 0,
    });
    pageOnAny(
      "FailedBreakGlassAlarm",
      "A break-glass action failed (see the ledger: warden status --endpoint NAME).",
      failedActions.metric({ period: Duration.minutes(1), statistic: "Sum" }),
    );
  }
}

/** The function's code: what cargo-lambda built, or a placeholder for synthesising in checks. */
function code(lambdaDir: string | undefined, binary: string): lambda.Code {
  if (lambdaDir === undefined) {
    return lambda.Code.fromAsset(path.join(packageRoot(), "placeholder"));
  }
  const dir = path.resolve(lambdaDir, binary);
  if (!fs.existsSync(path.join(dir, "bootstrap"))) {
    throw new Error(
      `${dir}/bootstrap is missing: run \`cargo lambda build --release --arm64\` in the workspace root first`,
    );
  }
  return lambda.Code.fromAsset(dir);
}

/** infra/cdk, whether this file runs compiled (dist/lib) or through ts-jest (lib). */
function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}
