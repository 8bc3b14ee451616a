//! `warden-digest`: on a schedule, the next signed digest of the ledger. Wiring only: the writer lives in
//! `warden_app::anchor`, served by `warden_aws::digest`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    warden_aws::digest::run().await
}
