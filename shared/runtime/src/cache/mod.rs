//! The answer cache (cache-aside, Redis/Valkey), `docs/adr/0006-cache.md`. About 480 lines,
//! kept whole: the protocol (lookup, conditional store, invalidation, epoch, breaker) reads best
//! in one piece; the keys and fields are `slot.rs`.
//!
//! Answers are cached as served: after scoping and masking, so an entry is only ever served to
//! the same endpoint, scope, role, masking and parameters it was computed for (all in its
//! field). A customer's answers live in one Redis hash per queried identifier, beside a
//! generation stamp `gen`; search answers in one hash per scope. An ingest that touches a
//! customer replaces the hashes of all its identifiers (and of the scopes it touched) with a
//! fresh `gen`; a reader stores what it computed only if `gen` is still the one it saw before
//! reading DynamoDB, so an answer computed from older data never lands after the
//! invalidation. A recalibration changes every prediction: it moves the global `epoch`, which
//! every entry records.
//!
//! Redis is never on the critical path: each call is bounded by a short timeout, and a failure
//! opens a breaker that skips Redis for a while (reads then go to DynamoDB alone, with no added
//! wait). Anything unreadable under a key is a miss.
//!
//! Half of the file is the Redis scripts, their replies and the failure handling around them.

use c360_domain::projection::Scope;
use c360_domain::Identifier;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod slot;
use slot::{id_hash, scope_hash};
pub use slot::{CacheUse, Slot};

/// Key prefix; the version changes when the entry format does, so old entries read as misses.
const PREFIX: &str = "c360:v1";

/// Writes an entry only if the hash's generation is still the one the reader saw. Something
/// else under the key (not a hash: another program's, or damage) is replaced.
/// KEYS[1] hash; ARGV: expected gen ('' = none), field, entry, ttl seconds.
const PUT_IF_GEN: &str = r"
local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'hash' and t ~= 'none' then redis.call('DEL', KEYS[1]) end
local g = redis.call('HGET', KEYS[1], 'gen') or ''
if g ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
";

/// Drops every answer under a hash and stamps a new generation (kept for the TTL, so a reader
/// that saw the old one can never write). KEYS[1] hash; ARGV: new gen, ttl seconds.
const INVALIDATE: &str = r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'gen', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
";

/// Cache settings, from the environment ([`CacheConfig::from_env`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    /// `C360_REDIS_URL` (`redis://host:port`, `rediss://` for TLS); unset means no cache.
    pub url: Option<String>,
    /// `C360_CACHE_TTL_SECS`, default 1800 (30 minutes, the seed's figure): how long an answer
    /// may be served, and so the staleness bound when an invalidation could not reach Redis.
    pub ttl: Duration,
    /// `C360_REDIS_TIMEOUT_MS`, default 100: the most one Redis call may add to a request.
    pub timeout: Duration,
    /// `C360_CACHE_BREAKER_SECS`, default 30: after a failure, Redis is skipped this long.
    pub breaker: Duration,
    /// `C360_CACHE_SETTLE_MS`, default 5000: for this long after an invalidation, answers
    /// about what it dropped are not stored. DynamoDB's eventually consistent reads (and its
    /// index queries, which cannot be consistent) may still return the state before the
    /// change for a moment; storing such an answer would serve it for a whole TTL. 0 where
    /// reads are strongly consistent (the local emulator's tests).
    pub settle: Duration,
}

impl CacheConfig {
    /// # Errors
    /// A message naming the variable that is not a positive whole number.
    pub fn from_env() -> Result<CacheConfig, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let num_from = |k: &str, default: u64, min: u64| -> Result<u64, String> {
            match var(k) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n >= min)
                    .ok_or_else(|| {
                        format!("{k} must be a whole number of at least {min}, got `{v}`")
                    }),
            }
        };
        let num = |k: &str, default: u64| num_from(k, default, 1);
        Ok(CacheConfig {
            url: var("C360_REDIS_URL"),
            ttl: Duration::from_secs(num("C360_CACHE_TTL_SECS", 1800)?),
            timeout: Duration::from_millis(num("C360_REDIS_TIMEOUT_MS", 100)?),
            breaker: Duration::from_secs(num("C360_CACHE_BREAKER_SECS", 30)?),
            settle: Duration::from_millis(num_from("C360_CACHE_SETTLE_MS", 5000, 0)?),
        })
    }
}

/// A lookup's replies: the hash's `gen` and the entry (raw bytes, absent as `None`), and the
/// epoch.
type Lookup = (Vec<Option<Vec<u8>>>, Option<String>);

/// What a miss remembers until it stores its answer: the generation and epoch it saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    gen: String,
    epoch: String,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    /// Unix ms after which the entry is not served.
    exp: i64,
    epoch: String,
    data: Value,
}

/// The answer cache. Cheap to clone; [`Cache::disabled`] does nothing.
#[derive(Clone)]
pub struct Cache {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<ConnectionManager>>,
    /// Unix ms until which Redis is skipped.
    open_until: AtomicI64,
    config: CacheConfig,
    hits: AtomicU64,
    misses: AtomicU64,
    /// An invalidation failed: the next one that reaches Redis also moves the epoch, so the
    /// answers it missed stop being served as soon as Redis is back (not only at their TTL).
    lost: AtomicBool,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A value no other writer will pick: the time (Unix ms) and a random tail.
fn fresh_stamp() -> String {
    format!("{}-{:016x}", now_ms(), rand::random::<u64>())
}

/// When a stamp of [`fresh_stamp`] was made, in Unix ms.
fn stamp_time(stamp: &str) -> Option<i64> {
    stamp.split_once('-').and_then(|(ms, _)| ms.parse().ok())
}

impl Cache {
    pub fn disabled() -> Cache {
        Cache { inner: None }
    }

    /// A cache on `config.url`, or [`Cache::disabled`] without one. Connects lazily: building
    /// it touches no network (cold starts stay cheap; Redis being down costs nothing here).
    ///
    /// # Errors
    /// The URL does not parse as a Redis URL.
    pub fn new(config: CacheConfig) -> Result<Cache, String> {
        let Some(url) = config.url.clone() else {
            return Ok(Cache::disabled());
        };
        let client = redis::Client::open(url.as_str())
            .map_err(|e| format!("C360_REDIS_URL is not a Redis URL: {e}"))?;
        Ok(Cache {
            inner: Some(Arc::new(Inner {
                client,
                conn: tokio::sync::Mutex::new(None),
                open_until: AtomicI64::new(0),
                config,
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                lost: AtomicBool::new(false),
            })),
        })
    }

    /// From the environment, saying at start whether answers are cached.
    ///
    /// # Errors
    /// A bad `C360_*` cache variable or URL.
    pub fn from_env() -> Result<Cache, String> {
        let config = CacheConfig::from_env()?;
        match &config.url {
            None => tracing::info!("C360_REDIS_URL is not set: answers are not cached"),
            Some(_) => tracing::info!(
                ttl_secs = config.ttl.as_secs(),
                timeout_ms = config.timeout.as_millis() as u64,
                "answers are cached in Redis"
            ),
        }
        Cache::new(config)
    }

    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Hits over hits and misses since this instance started, for the request log line.
    pub fn hit_ratio(&self) -> Option<f64> {
        let inner = self.inner.as_ref()?;
        let hits = inner.hits.load(Ordering::Relaxed) as f64;
        let total = hits + inner.misses.load(Ordering::Relaxed) as f64;
        (total > 0.0).then(|| (hits / total * 1000.0).round() / 1000.0)
    }

    /// The answer under `slot` if it is still current; otherwise what the miss must remember
    /// to store its own answer. `Err(())` means Redis is unusable now: answer without it.
    pub async fn get(&self, slot: &Slot) -> Result<Result<Value, Seen>, ()> {
        let Some(inner) = &self.inner else {
            return Err(());
        };
        let mut pipe = redis::pipe();
        pipe.cmd("HMGET")
            .arg(&slot.hash)
            .arg("gen")
            .arg(&slot.field)
            .cmd("GET")
            .arg(format!("{PREFIX}:epoch"));
        let read: Result<Lookup, _> = inner
            .call(|mut c| async move { pipe.query_async(&mut c).await })
            .await;
        let (fields, epoch) = match read {
            Ok(v) => v,
            // Not a hash under our key: a miss, and the miss's write replaces it.
            Err(Failure::WrongType) => {
                inner.misses.fetch_add(1, Ordering::Relaxed);
                return Ok(Err(Seen::default()));
            }
            Err(Failure::Unusable) => return Err(()),
        };
        let text = |i: usize| {
            fields
                .get(i)
                .cloned()
                .flatten()
                .and_then(|b| String::from_utf8(b).ok())
        };
        let seen = Seen {
            gen: text(0).unwrap_or_default(),
            epoch: epoch.unwrap_or_default(),
        };
        // Anything that is not an entry of ours, current, is a miss.
        let hit = text(1)
            .and_then(|raw| serde_json::from_str::<Entry>(&raw).ok())
            .filter(|e| e.epoch == seen.epoch && e.exp > now_ms());
        Ok(match hit {
            Some(entry) => {
                inner.hits.fetch_add(1, Ordering::Relaxed);
                Ok(entry.data)
            }
            None => {
                inner.misses.fetch_add(1, Ordering::Relaxed);
                Err(seen)
            }
        })
    }

    /// Stores `data` under `slot` unless an invalidation came since `seen` was read.
    /// Returns whether Redis could be used.
    pub async fn put(&self, slot: &Slot, seen: &Seen, data: &Value) -> bool {
        let Some(inner) = &self.inner else {
            return false;
        };
        // Just invalidated: what was read may predate the change (eventual consistency).
        let settling = [&seen.gen, &seen.epoch]
            .into_iter()
            .filter_map(|s| stamp_time(s))
            .any(|t| now_ms() - t < inner.config.settle.as_millis() as i64);
        if settling {
            return true;
        }
        let ttl = inner.config.ttl;
        let entry = Entry {
            exp: now_ms() + ttl.as_millis() as i64,
            epoch: seen.epoch.clone(),
            data: data.clone(),
        };
        let Ok(entry) = serde_json::to_string(&entry) else {
            return false;
        };
        let script = redis::Script::new(PUT_IF_GEN);
        let mut inv = script.key(&slot.hash);
        inv.arg(&seen.gen)
            .arg(&slot.field)
            .arg(entry)
            .arg(ttl.as_secs().max(1));
        inner
            .call(|mut c| async move { inv.invoke_async::<i64>(&mut c).await })
            .await
            .is_ok()
    }

    /// Stops serving every answer about `ids` and every search answer in `scopes`.
    /// Returns whether it reached Redis; when it did not, those answers may be served until
    /// their TTL runs out (the bound in ADR 0006).
    pub async fn invalidate(&self, ids: &[Identifier], scopes: &[Scope]) -> bool {
        let Some(inner) = &self.inner else {
            return true;
        };
        if ids.is_empty() && scopes.is_empty() {
            return true;
        }
        let stamp = fresh_stamp();
        let ttl = inner.config.ttl.as_secs().max(1);
        let hashes: Vec<String> = ids
            .iter()
            .map(id_hash)
            .chain(scopes.iter().map(scope_hash))
            .collect();
        let mut pipe = redis::pipe();
        // After a lost invalidation, everything: which answers it should have dropped is unknown.
        let catch_up = inner.lost.load(Ordering::Relaxed);
        if catch_up {
            pipe.cmd("SET")
                .arg(format!("{PREFIX}:epoch"))
                .arg(&stamp)
                .ignore();
        }
        for h in &hashes {
            // EVAL with the script's body: a pipeline cannot fall back from EVALSHA.
            pipe.cmd("EVAL")
                .arg(INVALIDATE)
                .arg(1)
                .arg(h)
                .arg(&stamp)
                .arg(ttl)
                .ignore();
        }
        let ok = inner
            .call(|mut c| async move { pipe.query_async::<()>(&mut c).await })
            .await
            .is_ok();
        if ok && catch_up {
            inner.lost.store(false, Ordering::Relaxed);
            tracing::info!("cache reachable again: every answer cached before is dropped");
        } else if !ok {
            inner.lost.store(true, Ordering::Relaxed);
        }
        let (done, failed) = if ok {
            (hashes.len() as u64, 0)
        } else {
            (0, hashes.len() as u64)
        };
        crate::telemetry::emit_metrics(
            "Customer360",
            &[("Cache", "invalidation")],
            &[
                ("CacheInvalidations", done),
                ("CacheInvalidationsFailed", failed),
            ],
        );
        if !ok && !catch_up {
            // Once per outage; the metric counts every one.
            tracing::warn!(
                hashes = hashes.len(),
                ttl_secs = ttl,
                "cache invalidation did not reach Redis; older answers may be served until Redis is reachable again or their TTL runs out"
            );
        }
        ok
    }

    /// Moves the epoch: every cached answer stops being served (a recalibration changed every
    /// prediction). Returns whether it reached Redis.
    pub async fn invalidate_all(&self) -> bool {
        self.move_epoch(false).await
    }

    /// [`Cache::invalidate_all`] for an erasure: tried even while the breaker is open, since
    /// Redis may be back (a blip of a second opens the breaker for `C360_CACHE_BREAKER_SECS`)
    /// and an answer about an erased customer must not be served once it is. Returns whether
    /// it reached Redis; `true` without a cache.
    pub async fn invalidate_all_now(&self) -> bool {
        self.move_epoch(true).await
    }

    async fn move_epoch(&self, through_open_breaker: bool) -> bool {
        let Some(inner) = &self.inner else {
            return true;
        };
        let stamp = fresh_stamp();
        inner
            .attempt(through_open_breaker, |mut c| async move {
                redis::cmd("SET")
                    .arg(format!("{PREFIX}:epoch"))
                    .arg(stamp)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
            .is_ok()
    }
}

/// Why a Redis call gave nothing.
enum Failure {
    /// Redis is down, slow or refusing (full): the breaker is open.
    Unusable,
    /// The key holds another type than ours.
    WrongType,
}

impl Inner {
    /// Runs one Redis call within the timeout, through the breaker. A failure opens the
    /// breaker; while it is open no call is tried.
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, Failure>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        self.attempt(false, f).await
    }

    /// [`Inner::call`], or with `through_open_breaker` tried even while the breaker is open
    /// (still within the timeout; a failure keeps it open).
    async fn attempt<T, F, Fut>(&self, through_open_breaker: bool, f: F) -> Result<T, Failure>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if !through_open_breaker && self.open_until.load(Ordering::Relaxed) > now_ms() {
            return Err(Failure::Unusable);
        }
        let timeout = self.config.timeout;
        let result = tokio::time::timeout(timeout, async {
            let conn = self.connection().await?;
            f(conn).await
        })
        .await;
        match result {
            Ok(Ok(v)) => Ok(v),
            // Redis works; the key holds something that is not ours.
            Ok(Err(e)) if e.code() == Some("WRONGTYPE") => Err(Failure::WrongType),
            Ok(Err(e)) => {
                self.trip(&e.to_string()).await;
                Err(Failure::Unusable)
            }
            Err(_) => {
                self.trip(&format!("no answer within {} ms", timeout.as_millis()))
                    .await;
                Err(Failure::Unusable)
            }
        }
    }

    async fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.config.timeout)
            .set_response_timeout(self.config.timeout)
            .set_number_of_retries(0);
        let c = ConnectionManager::new_with_config(self.client.clone(), config).await?;
        *slot = Some(c.clone());
        Ok(c)
    }

    async fn trip(&self, why: &str) {
        // The next try, once the breaker closes, opens a new connection rather than waiting on
        // one that broke.
        *self.conn.lock().await = None;
        let until = now_ms() + self.config.breaker.as_millis() as i64;
        let was = self.open_until.swap(until, Ordering::Relaxed);
        // One line per outage, not one per request.
        if was <= now_ms() {
            tracing::warn!(
                error = why,
                breaker_secs = self.config.breaker.as_secs(),
                "cache bypassed: Redis is not usable; answering from DynamoDB"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn configuration_defaults_and_rejects_nonsense() {
        let c = CacheConfig::from_env().expect("defaults");
        assert_eq!(c.ttl, Duration::from_secs(1800));
        assert_eq!(c.settle, Duration::from_millis(5000));
        assert_eq!(stamp_time("1795959372000-00ff"), Some(1795959372000));
        assert_eq!(stamp_time(""), None);
        assert!(!Cache::disabled().enabled());
        assert!(Cache::new(CacheConfig {
            url: Some("not a url".into()),
            ..c
        })
        .is_err());
    }
}
