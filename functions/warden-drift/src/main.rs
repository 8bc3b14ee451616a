//! `warden-drift`: Drift and bias: CloudWatch alarms on monitor metrics and Warden Drift Detected events. Wiring only: the handler is `warden_app::detector`, served by `warden_aws::function`.

use warden_aws::function::{FunctionSpec, run};

/// The binary's name (= package name = SAM `Binary` = CDK `binaryName`) and the sources it accepts.
const SPEC: FunctionSpec =
    FunctionSpec { name: "warden-drift", sources: &["aws.cloudwatch", "aws.monitoring", "warden.monitor"] };

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    run(SPEC).await
}
