//! Counts DynamoDB requests by operation, as they go on the wire (retries included), so tests
//! and benchmarks can assert how many requests a read or an ingest costs, and how many of them
//! had to wait for one another ([`RequestCounter::rounds`]).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
    /// The highest round a response has arrived for (see [`RequestCounter::rounds`]).
    answered_round: Arc<AtomicU64>,
    /// The `Limit`s of the Queries sent, summed (see [`RequestCounter::query_limits`]).
    query_limits: Arc<AtomicU64>,
    /// The keys the BatchGetItems sent asked for (see [`RequestCounter::batch_keys`]).
    batch_keys: Arc<AtomicU64>,
}

/// The round of one request attempt, kept in its config bag between sending and answer.
#[derive(Debug, Clone)]
struct Round(u64);

impl Storable for Round {
    type Storer = StoreReplace<Self>;
}

impl RequestCounter {
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
    /// Sequential round trips: the longest chain of requests in which each was sent after the
    /// answer to the one before had arrived. A request sent when answers up to round `r` have
    /// arrived is in round `r + 1`, so requests sent together share a round, and code that
    /// awaits each request before sending the next has as many rounds as requests. An upper
    /// bound on the real dependency chain (a request may follow an answer it did not need).
    pub fn rounds(&self) -> u64 {
        self.answered_round.load(Ordering::SeqCst)
    }
    /// The `Limit`s of the Queries sent since the last reset, summed: an upper bound on the
    /// items they read. A Query without a `Limit` adds `u32::MAX` (unbounded).
    pub fn query_limits(&self) -> u64 {
        self.query_limits.load(Ordering::SeqCst)
    }
    /// The keys asked for by the BatchGetItems sent since the last reset, summed over their
    /// tables: the items they read at most.
    pub fn batch_keys(&self) -> u64 {
        self.batch_keys.load(Ordering::SeqCst)
    }
    pub fn reset(&self) {
        if let Ok(mut c) = self.counts.lock() {
            c.clear();
        }
        self.answered_round.store(0, Ordering::SeqCst);
        self.query_limits.store(0, Ordering::SeqCst);
        self.batch_keys.store(0, Ordering::SeqCst);
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
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = operation_name(context.request().headers()).to_string();
        let body = || {
            context
                .request()
                .body()
                .bytes()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        };
        if op == "Query" {
            let limit = body()
                .and_then(|body| body.get("Limit").and_then(serde_json::Value::as_u64))
                .unwrap_or(u64::from(u32::MAX));
            self.query_limits.fetch_add(limit, Ordering::SeqCst);
        }
        if op == "BatchGetItem" {
            let keys: usize = body()
                .and_then(|body| {
                    body.get("RequestItems")
                        .and_then(serde_json::Value::as_object)
                        .map(|tables| {
                            tables
                                .values()
                                .filter_map(|t| t.get("Keys").and_then(serde_json::Value::as_array))
                                .map(Vec::len)
                                .sum()
                        })
                })
                .unwrap_or(0);
            self.batch_keys.fetch_add(keys as u64, Ordering::SeqCst);
        }
        if let Ok(mut c) = self.counts.lock() {
            *c.entry(op).or_insert(0) += 1;
        }
        let round = self.answered_round.load(Ordering::SeqCst) + 1;
        cfg.interceptor_state().store_put(Round(round));
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Round(round)) = cfg.load::<Round>() {
            self.answered_round.fetch_max(*round, Ordering::SeqCst);
        }
        Ok(())
    }
}
