//! Fits the BG/NBD and Gamma-Gamma models per store from the projection (weekly schedule).

// mimalloc instead of glibc malloc: ADR 0013.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    c360_ingest::calibrate::run().await
}
