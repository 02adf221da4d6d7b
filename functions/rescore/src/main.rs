//! Re-evaluates every customer's segment memberships (EventBridge schedule; see `c360_ingest::rescore`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    c360_ingest::rescore::run().await
}
