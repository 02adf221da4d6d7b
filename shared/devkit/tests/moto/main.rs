//! The dev kit against the DynamoDB emulator: each test starts its own `moto_server` through
//! `c360_devkit::testing::MotoServer` (skipped without moto, except under the test command or
//! CI). One test binary for both, so the SDK is linked once.

mod demo_load;
mod poller;
