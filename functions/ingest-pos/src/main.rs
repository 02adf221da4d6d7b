//! Applies the `pos` source stream to the customer360 projection.
use c360_domain::SourceKind;
use c360_ingest::handler;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    handler::run(SourceKind::PosTransactions).await
}
