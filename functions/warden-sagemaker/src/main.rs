//! `warden-sagemaker`: SageMaker model registry, endpoint, job, pipeline and model card events. Wiring only: the handler is `warden_app::detector`, served by `warden_aws::function`.

use warden_aws::function::{FunctionSpec, run};

/// The binary's name (= package name = SAM `Binary` = CDK `binaryName`) and the sources it accepts.
const SPEC: FunctionSpec = FunctionSpec { name: "warden-sagemaker", sources: &["aws.sagemaker"] };

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    run(SPEC).await
}
