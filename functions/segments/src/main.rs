//! `/api/v1/customer360/segments[/…]`: clients are built once at cold start, requests go to the shared handler.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    c360_api::segments::run().await
}
