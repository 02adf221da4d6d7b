//! Fits the BG/NBD and Gamma-Gamma models per store from the projection (weekly schedule).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    c360_ingest::calibrate::run().await
}
