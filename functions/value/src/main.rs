//! `GET /api/v1/customer360/value`: clients are built once at cold start, requests go to the shared handler.
use c360_api::http::{self, Endpoint};

// mimalloc instead of glibc malloc: ADR 0013.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// A Lambda instance serves one request at a time: a single-threaded runtime spares the
// cross-thread wake-ups of a multi-threaded one (a quarter of a read's CPU, docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http::run(Endpoint::Value).await
}
