//! Rebuilds the projection from the source tables (invoked by hand; again until complete).

// mimalloc instead of glibc malloc: ADR 0013.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    c360_ingest::rebuild::run().await
}
