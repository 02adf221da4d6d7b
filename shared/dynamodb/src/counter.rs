//! Counts DynamoDB requests by operation, as they go on the wire (retries included), so tests
//! and benchmarks can assert how many requests a read or an ingest costs.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl RequestCounter {
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
    pub fn reset(&self) {
        if let Ok(mut c) = self.counts.lock() {
            c.clear();
        }
    }
}

/// The DynamoDB operation a request calls (`Query`, `TransactWriteItems`...), or `unknown`:
/// the JSON protocol names it in a header, `X-Amz-Target: DynamoDB_20120810.Query`.
pub fn operation_name(headers: &aws_smithy_runtime_api::http::Headers) -> &str {
    headers
        .get("x-amz-target")
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("unknown")
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = operation_name(context.request().headers()).to_string();
        if let Ok(mut c) = self.counts.lock() {
            *c.entry(op).or_insert(0) += 1;
        }
        Ok(())
    }
}
