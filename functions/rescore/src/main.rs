//! Re-evaluates every customer's segment memberships (EventBridge schedule; see `c360_ingest::rescore`).

// mimalloc instead of glibc malloc: ADR 0013.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    c360_ingest::rescore::run().await
}
