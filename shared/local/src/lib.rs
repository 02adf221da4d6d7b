//! The local environment behind `scripts/dev`: table setup, the demo data, the stream
//! poller wired to the real ingest handlers, and an HTTP server mounting the real read
//! handlers under the seed's paths.

pub mod server;
pub use server::{router, with_console};

use c360_api::auth::sign_hs256;
use c360_api::http::{Access, LocalDefaults};
use c360_devkit::poller::{batch_handler, StreamSource};
use c360_domain::access::Role;
use c360_domain::SourceKind;
use c360_dynamodb::store::Store;
use c360_ingest::handler::Ingest;
use c360_ingest::projector::Projector;
use c360_runtime::cache::Cache;
use c360_runtime::config::{dynamodb_client, Config};
use c360_runtime::segments::Segments;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The name of a source table: `C360_SOURCE_TABLE_<NAME>` or the name in `spec/sources.md`.
pub fn source_table(kind: SourceKind) -> String {
    std::env::var(format!("C360_SOURCE_TABLE_{}", kind.table().to_uppercase()))
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| kind.table().to_string())
}

/// Clients for the local emulator: region and credentials default to harmless local values
/// so a fresh shell works; `AWS_ENDPOINT_URL` says where the emulator is.
pub async fn sdk_config() -> aws_config::SdkConfig {
    // The emulator is slower than DynamoDB (a Scan page of the demo data takes seconds), and
    // it may not hang a local tool forever either: 60 s an attempt unless
    // `C360_DYNAMODB_ATTEMPT_TIMEOUT_MS` says otherwise (the Lambdas' default is 3 s).
    let attempt = std::env::var("C360_DYNAMODB_ATTEMPT_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map_or(Duration::from_secs(60), Duration::from_millis);
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(c360_runtime::config::timeouts(attempt));
    if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err() {
        loader = loader.region(aws_config::Region::new("us-east-1"));
    }
    if std::env::var("AWS_ACCESS_KEY_ID").is_err() {
        loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "c360-local",
        ));
    }
    loader.load().await
}

/// Local runs only: API Gateway verifies tokens in AWS (`C360_AUTH=api-gateway`).
pub const DEV_JWT_SECRET: &str = "customer360-local-development-only-secret";
pub const DEV_AUDIT_HASH_KEY: &str = "customer360-local-audit-hash-key";

pub fn audit_table() -> String {
    std::env::var("C360_AUDIT_TABLE")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "customer360-audit".to_string())
}

/// Authentication, masking and audit for a local run: the environment's settings, else
/// HS256 with [`DEV_JWT_SECRET`] and the local audit table.
pub fn local_access(sdk: &aws_config::SdkConfig) -> anyhow::Result<Access> {
    Ok(Access::from_env_or(
        dynamodb_client(sdk, None),
        Some(LocalDefaults {
            jwt_secret: DEV_JWT_SECRET,
            audit_hash_key: DEV_AUDIT_HASH_KEY,
        }),
    )?)
}

/// The segment upkeep of a local run: its `segment_membership` log lines carry the
/// `customer_ref` that the local API opens (the environment's `C360_AUDIT_HASH_KEY`, else
/// [`DEV_AUDIT_HASH_KEY`], as [`local_access`]).
pub fn segments(
    store: c360_dynamodb::store::Store,
    config: &c360_runtime::config::Config,
) -> c360_runtime::segments::Segments {
    let refs = c360_runtime::seal::customer_refs_from_env()
        .unwrap_or_else(|| c360_runtime::seal::customer_refs(DEV_AUDIT_HASH_KEY.as_bytes()));
    c360_runtime::segments::Segments::new(store, config.clone())
        .with_customer_refs(Some(std::sync::Arc::new(refs)))
}

/// The local identities, one list for the console and for what `scripts/dev` prints: the
/// console label, `sub`, role, and whether the store roles belong to the demo's first store
/// (`true`) or to another one, whose guests they must not see (`false`).
const DEV_IDENTITIES: [(&str, &str, Role, bool); 4] = [
    ("总部管理员", "hq-admin", Role::SuperAdmin, true),
    ("门店管理员", "manager-1", Role::StoreAdmin, true),
    ("门店员工", "staff-1", Role::Staff, true),
    ("门店管理员", "manager-2", Role::StoreAdmin, false),
];

/// A local identity signed with the local secret, valid for 30 days.
struct DevIdentity {
    label: &'static str,
    role: Role,
    store: Option<String>,
    token: String,
}

/// [`DEV_IDENTITIES`] signed, the store roles in `store`, or in `other_store` (those are left
/// out when it is `None`).
fn dev_identities(store: &str, other_store: Option<&str>) -> anyhow::Result<Vec<DevIdentity>> {
    let secret = dev_secret();
    let exp = chrono::Utc::now().timestamp() + 30 * 86_400;
    DEV_IDENTITIES
        .iter()
        .filter_map(|&(label, sub, role, home)| {
            let store = match (role, home) {
                (Role::SuperAdmin, _) => None,
                (_, true) => Some(store),
                (_, false) => Some(other_store?),
            };
            Some((label, sub, role, store))
        })
        .map(|(label, sub, role, store)| {
            let token =
                sign_hs256(secret.as_bytes(), sub, role, store, exp).map_err(anyhow::Error::msg)?;
            Ok(DevIdentity {
                label,
                role,
                store: store.map(str::to_string),
                token,
            })
        })
        .collect()
}

/// The identities the console offers locally (`/console/dev-identities.json`): the three of
/// [`dev_tokens`] and a store admin of `other_store`, who must not see `store`'s guests.
/// `{"identities": [{"label", "role", "store_id", "token"}]}`. `None` when this server does
/// not verify the local secret's tokens (`C360_AUTH` set to something other than `hs256`):
/// the console would offer identities the API refuses.
pub fn console_identities(
    store: &str,
    other_store: &str,
) -> anyhow::Result<Option<serde_json::Value>> {
    let auth = std::env::var("C360_AUTH").unwrap_or_default();
    if !(auth.trim().is_empty() || auth.trim() == "hs256") {
        return Ok(None);
    }
    let list: Vec<serde_json::Value> = dev_identities(store, Some(other_store))?
        .into_iter()
        .map(|id| {
            serde_json::json!({
                "label": match &id.store { Some(s) => format!("{} · {s}", id.label), None => id.label.to_string() },
                "role": id.role.as_str(),
                "store_id": id.store,
                "token": id.token,
            })
        })
        .collect();
    Ok(Some(serde_json::json!({ "identities": list })))
}

fn dev_secret() -> String {
    std::env::var("C360_JWT_SECRET")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEV_JWT_SECRET.to_string())
}

/// Tokens for the three roles (the demo's first store for the store roles), valid for 30
/// days, signed with the local secret: what `scripts/dev` prints, as `(who, token)`.
pub fn dev_tokens(store: &str) -> anyhow::Result<Vec<(String, String)>> {
    Ok(dev_identities(store, None)?
        .into_iter()
        .map(|id| {
            let who = match &id.store {
                Some(s) => format!("{} of {s}", id.role.as_str()),
                None => id.role.as_str().to_string(),
            };
            (who, id.token)
        })
        .collect())
}

pub fn store(sdk: &aws_config::SdkConfig, config: &Config) -> Store {
    Store::new(dynamodb_client(sdk, None), config.table.clone())
}

/// One stream source per source table, each invoking the real ingest handler. `settled`
/// counts records that reached a final outcome (applied, stale, skipped), for progress.
pub fn stream_sources(
    store: &Store,
    config: &Config,
    cache: &Cache,
    segments: &Segments,
    settled: Arc<AtomicU64>,
) -> Vec<StreamSource> {
    SourceKind::ALL
        .into_iter()
        .map(|kind| {
            let ingest = Ingest::new(
                kind,
                Projector::new(store.clone(), config.zone)
                    .with_cache(cache.clone())
                    .with_segments(segments.clone()),
                config.zone,
            );
            let settled = settled.clone();
            let handler = batch_handler(move |event| {
                let ingest = ingest.clone();
                let settled = settled.clone();
                async move {
                    let (response, report) = ingest.handle(event).await;
                    settled.fetch_add(
                        report.applied
                            + report.stale
                            + report.advanced
                            + report.no_customer
                            + report.suppressed,
                        Ordering::Relaxed,
                    );
                    Ok::<_, String>(response)
                }
            });
            StreamSource::new(source_table(kind), handler)
        })
        .collect()
}

/// The seed's two example segments (`spec/customer360-seed.md`, marketing): high-value active
/// customers (`rfm_score >= 70` and `活跃用户`) and everyone tagged `流失风险`. Fixed ids so the
/// README's curl commands work on every machine.
pub fn demo_segments(now: c360_domain::Millis) -> Vec<c360_domain::segment::SegmentDef> {
    use c360_domain::segment::{Filter, SegmentDef};
    let def = |id: &str, name: &str, description: &str, filter: &str| {
        Filter::parse_json(filter).map(|filter| SegmentDef {
            id: id.to_string(),
            name: name.to_string(),
            description: Some(description.to_string()),
            filter,
            version: 1,
            created_at: now,
            updated_at: now,
            created_by: Some("c360-dev".to_string()),
            // Brand-wide: a store admin uses them; only a super_admin changes them.
            owner_store: None,
            built_at: None,
        })
    };
    [
        def(
            "seg_demo_high_value_active",
            "高价值活跃客户",
            "RFM 评分 ≥ 70 且 活跃用户: 发送专属优惠",
            r#"{"and":[{"field":"rfm_score","op":"gte","value":70},{"field":"tags","op":"contains_all","value":["活跃用户"]}]}"#,
        ),
        def(
            "seg_demo_churn_risk",
            "流失风险客户",
            "标签 流失风险: 启动挽回",
            r#"{"field":"tags","op":"contains_all","value":["流失风险"]}"#,
        ),
    ]
    .into_iter()
    .filter_map(Result::ok)
    .collect()
}

/// What [`save_demo_segments`] did with one of the seed's segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoSegment {
    Saved,
    /// A segment with its id exists (maybe changed since); left as it is.
    AlreadySaved,
    /// Not saved: [`c360_domain::segment::MAX_SAVED_SEGMENTS`] are saved already.
    Full,
}

/// Saves the seed's two segments ([`demo_segments`]) under their fixed ids, each only if no
/// segment has that id: other saved segments do not keep them out, and a changed one is kept.
///
/// Errors: the store's (unavailable, or a conflict that outlasted its retries).
pub async fn save_demo_segments(
    store: &Store,
    now: c360_domain::Millis,
) -> Result<Vec<(c360_domain::segment::SegmentDef, DemoSegment)>, c360_dynamodb::store::StoreError>
{
    let mut out = Vec::new();
    for def in demo_segments(now) {
        let outcome = if store.segment_def(&def.id).await?.is_some() {
            DemoSegment::AlreadySaved
        } else {
            match store
                .create_segment_def(&def, c360_domain::segment::MAX_SAVED_SEGMENTS)
                .await?
            {
                c360_dynamodb::store::Created::Full => DemoSegment::Full,
                _ => DemoSegment::Saved,
            }
        };
        out.push((def, outcome));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use c360_devkit::memory::MemoryDynamo;
    use c360_domain::Millis;

    async fn memory_store() -> Store {
        let client = MemoryDynamo::new().client();
        c360_dynamodb::schema::create_service_table(&client, "c360")
            .await
            .expect("table");
        Store::new(client, "c360")
    }

    #[tokio::test]
    async fn a_segment_saved_before_the_demos_does_not_keep_the_seeds_two_out() {
        let store = memory_store().await;
        let mut mine = demo_segments(Millis(0)).remove(0);
        mine.id = "seg_mine".into();
        mine.name = "我的".into();
        store
            .create_segment_def(&mine, c360_domain::segment::MAX_SAVED_SEGMENTS)
            .await
            .expect("saved");
        let first = save_demo_segments(&store, Millis(1)).await.expect("saved");
        let outcomes: Vec<(&str, DemoSegment)> =
            first.iter().map(|(d, o)| (d.id.as_str(), *o)).collect();
        assert_eq!(
            outcomes,
            [
                ("seg_demo_high_value_active", DemoSegment::Saved),
                ("seg_demo_churn_risk", DemoSegment::Saved)
            ]
        );
        // Again: nothing doubled, nothing overwritten.
        let again = save_demo_segments(&store, Millis(2)).await.expect("read");
        assert!(again.iter().all(|(_, o)| *o == DemoSegment::AlreadySaved));
        let mut ids: Vec<String> = store
            .segment_defs()
            .await
            .expect("listed")
            .into_iter()
            .map(|d| d.id)
            .collect();
        ids.sort();
        assert_eq!(
            ids,
            [
                "seg_demo_churn_risk",
                "seg_demo_high_value_active",
                "seg_mine"
            ]
        );
    }
}
