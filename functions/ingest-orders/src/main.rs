//! Applies the `orders` source stream to the customer360 projection.
use c360_adapters::{domain::SourceKind, ingest};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ingest::run(SourceKind::Orders).await
}
