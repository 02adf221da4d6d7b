//! Local tooling that plays AWS's part with no AWS account: the stream poller and the demo data.
pub mod demo;
pub mod poller;
#[cfg(test)]
mod testing;
