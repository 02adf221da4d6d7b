//! Local tooling that plays AWS's part with no AWS account: the stream poller, the demo data,
//! and an in-memory DynamoDB for fast property tests.
pub mod demo;
pub mod memory;
pub mod poller;
// Public for the integration tests under tests/ only, hence hidden.
#[doc(hidden)]
pub mod testing;
