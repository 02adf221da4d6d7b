//! Rebuilds the projection from the source tables (invoked by hand; again until complete).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    c360_ingest::rebuild::run().await
}
