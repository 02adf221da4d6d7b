//! `/api/v1/customer360/segments[/…]`: clients are built once at cold start, requests go to the shared handler.

// mimalloc instead of glibc malloc: ADR 0013.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// A Lambda instance serves one request at a time: a single-threaded runtime spares the
// cross-thread wake-ups of a multi-threaded one (a quarter of a read's CPU, docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    c360_api::segments::run().await
}
