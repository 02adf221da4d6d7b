//! Local tooling that plays AWS's part with no AWS account: the stream poller, the demo data,
//! and an in-memory DynamoDB for fast property tests.
pub mod demo;
pub mod memory;
pub mod poller;
#[cfg(test)]
mod testing;
