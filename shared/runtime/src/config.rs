//! Configuration from the environment, read once at cold start.

use c360_domain::coupon::CouponConfig;
use c360_domain::value::ValueConfig;
use c360_domain::Zone;
use c360_dynamodb::counter::RequestCounter;
use c360_dynamodb::store::Store;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// `C360_TABLE`, default `customer360`.
    pub table: String,
    /// `C360_UTC_OFFSET`, default `+08:00` (Asia/Shanghai; no daylight saving).
    pub zone: Zone,
    /// `C360_VALUE_CONFIG`: JSON thresholds, `{"defaults":{..},"stores":{"id":{..}}}`.
    pub value: ValueConfig,
    /// `C360_PROFILE_TIMELINE_LIMIT`, default 10: timeline entries in a profile.
    pub profile_timeline_limit: usize,
    /// `C360_RECENT_LIMIT`, default 5: recent orders and reservations in a profile. Up to 5
    /// come from the lists kept beside the stats
    /// (`c360_domain::projection::RECENT_KEPT`); more cost one Query per identifier and source.
    pub recent_limit: usize,
    /// `C360_MONTHLY_DISCOUNT_RATE`, default 0.01: discounts future spend in `predicted_clv_12m`.
    pub monthly_discount_rate: f64,
    /// `C360_DYNAMODB_ATTEMPT_TIMEOUT_MS`, default 3000: one DynamoDB request attempt may take
    /// this long before the SDK gives up on it and retries. Without it a connection that stops
    /// answering holds the function until Lambda kills it.
    pub dynamodb_attempt_timeout: Duration,
    /// `C360_COUPON_RULES`: the coupon rules, `{"defaults":[rule, ...],"stores":{"id":[...]}}`
    /// (`c360_domain::coupon`); without it the built-in rules
    /// (`c360_domain::coupon::DEFAULT_RULES_JSON`). A bad rule stops the function at start.
    pub coupons: CouponConfig,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(message: String) -> Self {
        ConfigError(message)
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_usize(name: &str, default: usize) -> Result<usize, ConfigError> {
    match env(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| ConfigError(format!("{name} must be a whole number, got `{v}`"))),
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let zone = match env("C360_UTC_OFFSET") {
            None => Zone::default(),
            Some(v) => Zone::parse(&v).ok_or_else(|| {
                ConfigError(format!("C360_UTC_OFFSET must look like +08:00, got `{v}`"))
            })?,
        };
        let value = match env("C360_VALUE_CONFIG") {
            None => ValueConfig::default(),
            Some(v) => serde_json::from_str(&v)
                .map_err(|e| ConfigError(format!("C360_VALUE_CONFIG: {e}")))?,
        };
        let coupons = CouponConfig::load(env("C360_COUPON_RULES").as_deref())
            .map_err(|e| ConfigError(format!("C360_COUPON_RULES: {e}")))?;
        Ok(Config {
            coupons,
            table: env("C360_TABLE").unwrap_or_else(|| "customer360".into()),
            zone,
            value,
            profile_timeline_limit: env_usize("C360_PROFILE_TIMELINE_LIMIT", 10)?,
            recent_limit: env_usize("C360_RECENT_LIMIT", 5)?,
            dynamodb_attempt_timeout: Duration::from_millis(
                env_usize("C360_DYNAMODB_ATTEMPT_TIMEOUT_MS", 3000)?.max(1) as u64,
            ),
            monthly_discount_rate: match env("C360_MONTHLY_DISCOUNT_RATE") {
                None => 0.01,
                Some(v) => v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..1.0).contains(r))
                    .ok_or_else(|| {
                        ConfigError(format!(
                            "C360_MONTHLY_DISCOUNT_RATE must be a rate in [0, 1), got `{v}`"
                        ))
                    })?,
            },
        })
    }
}

/// Clients built once per cold start and shared by every request.
#[derive(Clone)]
pub struct Clients {
    pub store: Store,
}

impl Clients {
    /// The SDK reads the region, credentials and `AWS_ENDPOINT_URL` (the local emulator)
    /// from the environment; nothing here calls the network.
    pub async fn from_env(config: &Config, counter: Option<RequestCounter>) -> Clients {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(timeouts(config.dynamodb_attempt_timeout))
            .load()
            .await;
        let client = dynamodb_client(&sdk, counter);
        Clients {
            store: Store::new(client, config.table.clone()),
        }
    }
}

/// A bounded wait for every DynamoDB request: `attempt` per attempt (the SDK retries a timed
/// out attempt like a throttled one), and a connection must open within 3 s.
pub fn timeouts(attempt: Duration) -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(attempt)
        .build()
}

pub fn dynamodb_client(
    sdk: &aws_config::SdkConfig,
    counter: Option<RequestCounter>,
) -> aws_sdk_dynamodb::Client {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(counter) = counter {
        builder = builder.interceptor(counter);
    }
    aws_sdk_dynamodb::Client::from_conf(builder.build())
}
