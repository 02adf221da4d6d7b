//! `GET /api/v1/customer360/recommendations`: clients and the coupon rules are built once at cold start, requests go to the shared handler.
use c360_api::http::{self, Endpoint};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    http::run(Endpoint::Recommendations).await
}
