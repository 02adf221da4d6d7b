//! `DELETE /api/v1/customer360/customer`: erases a customer from Customer360 (`super_admin`).
use c360_api::http::{self, Endpoint};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    http::run(Endpoint::Erase).await
}
