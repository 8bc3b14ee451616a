// The Warden CDK app. `cdk deploy` uses the binaries `cargo lambda build --release --arm64` leaves in
// ../../target/lambda (or WARDEN_LAMBDA_DIR); `-c placeholderCode=true` synthesises without them, for checks.

import * as path from "path";
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { WardenStack } from "../lib/warden-stack";

const app = new App();
const placeholder = app.node.tryGetContext("placeholderCode") === "true";
const lambdaDir = placeholder
  ? undefined
  : (process.env.WARDEN_LAMBDA_DIR ?? path.resolve(__dirname, "..", "..", "..", "..", "target", "lambda"));
new WardenStack(app, "Warden", {
  lambdaDir,
  // A concrete account and region: the customer-managed key's table encryption needs one to synthesise.
  env: {
    account: process.env.CDK_DEFAULT_ACCOUNT ?? "123456789012",
    region: process.env.CDK_DEFAULT_REGION ?? "us-east-1",
  },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
