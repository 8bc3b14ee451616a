//! `warden-breakglass`: carries out break-glass actions on SageMaker. Wiring only: the handler lives in
//! `warden_app::inbox`, served by `warden_aws::breakglass`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    warden_aws::breakglass::run().await
}
