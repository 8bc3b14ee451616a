//! `warden-guardduty`: GuardDuty findings and Malware Protection for S3 scan results. Wiring only: the handler is `warden_app::detector`, served by `warden_aws::function`.

use warden_aws::function::{FunctionSpec, run};

/// The binary's name (= package name = SAM `Binary` = CDK `binaryName`) and the sources it accepts.
const SPEC: FunctionSpec = FunctionSpec { name: "warden-guardduty", sources: &["aws.guardduty"] };

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    run(SPEC).await
}
