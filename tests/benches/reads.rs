//! A read handler's time per request with DynamoDB in memory behind the real SDK
//! (`c360_devkit::memory`): JWT check, parameters, the store's requests through the SDK's
//! serialization, the answer's assembly and masking, the audit write. No network, so on one
//! thread the time is CPU: what a Lambda pays per cache miss besides the round trips.
//!
//!     cargo bench -p c360-e2e --bench reads
//!
//! The data: the demo generator's first 100 customers (the seed customer 张三 has a member
//! id, a phone and an email; 26 orders, reservations, POS and activity records).

use c360_api::http::Endpoint;
use c360_e2e::TestEnv;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn reads(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let env = rt.block_on(async {
        // With the segment rows the search answers from (ADR 0014).
        let env = TestEnv::in_memory().await.with_segments();
        env.ingest_demo_customers(100).await;
        env
    });
    let mut group = c.benchmark_group("read");
    for (name, endpoint, query) in [
        (
            "profile",
            Endpoint::Profile,
            vec![("customer_identifier", "13800138000")],
        ),
        (
            "value",
            Endpoint::Value,
            vec![("customer_identifier", "13800138000")],
        ),
        (
            "timeline 50",
            Endpoint::Timeline,
            vec![("customer_identifier", "13800138000"), ("limit", "50")],
        ),
        ("search zs", Endpoint::Search, vec![("query", "zs")]),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let (status, body) = rt.block_on(env.get(endpoint, &query));
                assert_eq!(status, 200, "{body}");
                black_box(body)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, reads);
criterion_main!(benches);
