//! Applies the `activities` source stream to the customer360 projection.
use c360_domain::SourceKind;
use c360_ingest::handler;

// mimalloc instead of glibc malloc: ADR 0013.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    handler::run(SourceKind::Activity).await
}
