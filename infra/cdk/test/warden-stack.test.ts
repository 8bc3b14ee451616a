// The CDK stack's shape: what a reviewer checks first. The cross-checks against the Rust code (binaries,
// environment, rules, schema) are in tests/it/infra.rs and run on both stacks.

import { App, Validations } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { WardenStack } from "../lib/warden-stack";

const env = { account: "123456789012", region: "us-east-1" };

function synth(): Template {
  const app = new App();
  return Template.fromStack(new WardenStack(app, "Warden", { env }));
}

test("seven arm64 functions with JSON logs, tracing, encrypted environments and reserved concurrency", () => {
  const template = synth();
  template.resourceCountIs("AWS::Lambda::Function", 7);
  template.allResourcesProperties("AWS::Lambda::Function", {
    Runtime: "provided.al2023",
    Architectures: ["arm64"],
    TracingConfig: { Mode: "Active" },
    LoggingConfig: Match.objectLike({ LogFormat: "JSON" }),
    KmsKeyArn: Match.anyValue(),
    ReservedConcurrentExecutions: Match.anyValue(),
    DeadLetterConfig: Match.anyValue(),
  });
});

test("the ledger table is retained, protected, recoverable and encrypted with the stack's key", () => {
  const template = synth();
  template.hasResource("AWS::DynamoDB::Table", {
    DeletionPolicy: "Retain",
    Properties: Match.objectLike({
      DeletionProtectionEnabled: true,
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: Match.objectLike({ SSEEnabled: true, SSEType: "KMS" }),
    }),
  });
  template.hasResource("AWS::KMS::Key", { DeletionPolicy: "Retain", Properties: Match.objectLike({ EnableKeyRotation: true }) });
});

test("only the break-glass role may change SageMaker, and only tagged endpoints", () => {
  const template = synth();
  const policies = template.findResources("AWS::IAM::Policy");
  const changing = Object.entries(policies).filter(([, policy]) =>
    JSON.stringify(policy).includes("sagemaker:UpdateEndpoint"),
  );
  expect(changing.map(([id]) => id)).toEqual([expect.stringMatching(/^BreakGlassRole/)]);
  template.hasResourceProperties("AWS::IAM::Policy", {
    PolicyDocument: {
      Statement: Match.arrayWith([
        Match.objectLike({
          Sid: "ChangeManagedEndpoints",
          Condition: { StringEquals: { "aws:ResourceTag/warden:managed": "true" } },
        }),
      ]),
    },
  });
});

test("queues and topic are encrypted and TLS-only; alarms page the alert topic", () => {
  const template = synth();
  template.allResourcesProperties("AWS::SQS::Queue", { KmsMasterKeyId: Match.anyValue() });
  template.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: Match.anyValue() });
  template.resourceCountIs("AWS::CloudWatch::Alarm", 4);
  template.allResourcesProperties("AWS::CloudWatch::Alarm", { AlarmActions: [{ Ref: Match.stringLikeRegexp("^AlertTopic") }] });
});

test("cdk-nag AwsSolutions finds nothing unacknowledged", () => {
  const app = new App();
  new WardenStack(app, "Warden", { env });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  expect(() => app.synth()).not.toThrow();
});
