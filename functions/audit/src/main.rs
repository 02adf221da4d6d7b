//! `GET /api/v1/customer360/audit`: who looked at a customer and when (admins).
use c360_api::http::{self, Endpoint};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    http::run(Endpoint::Audit).await
}
