//! Who may call and what they see: the authenticator, masking and the audit log, from the
//! environment in AWS or from local defaults.

use crate::audit::{AuditLog, SubjectHasher};
use crate::auth::Authenticator;
use c360_domain::access::MaskingConfig;
use c360_runtime::config::ConfigError;

/// Who may call, how answers are masked for them, and where every query is audited.
pub struct Access {
    pub auth: Authenticator,
    pub masking: MaskingConfig,
    pub audit: AuditLog,
    pub hasher: SubjectHasher,
}

impl Access {
    /// `C360_AUTH` and friends (see [`Authenticator::from_env`]), `C360_MASKING` (JSON, per
    /// role), `C360_AUDIT_TABLE` (default `customer360-audit`), `C360_AUDIT_RETENTION_DAYS`
    /// (default 180) and `C360_AUDIT_HASH_KEY` (required: the key of the identifier hashes).
    pub fn from_env(client: aws_sdk_dynamodb::Client) -> Result<Access, ConfigError> {
        Access::from_env_or(client, None)
    }

    /// [`Access::from_env`], where a local run (`c360-dev`) supplies what the environment
    /// leaves unset: HS256 with a development secret, and a development hash key.
    pub fn from_env_or(
        client: aws_sdk_dynamodb::Client,
        local: Option<LocalDefaults<'_>>,
    ) -> Result<Access, ConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let masking = match var("C360_MASKING") {
            None => MaskingConfig::default(),
            Some(v) => serde_json::from_str(&v)
                .map_err(|e| ConfigError::new(format!("C360_MASKING: {e}")))?,
        };
        let key = var("C360_AUDIT_HASH_KEY")
            .or_else(|| local.map(|l| l.audit_hash_key.to_string()))
            .filter(|k| k.len() >= 16)
            .ok_or_else(|| {
                ConfigError::new("C360_AUDIT_HASH_KEY must be set (at least 16 characters)".into())
            })?;
        let retention_days = match var("C360_AUDIT_RETENTION_DAYS") {
            None => 180,
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|d| *d > 0)
                .ok_or_else(|| {
                    ConfigError::new(format!(
                        "C360_AUDIT_RETENTION_DAYS must be a whole number of days, got `{v}`"
                    ))
                })?,
        };
        let auth = match (var("C360_AUTH"), local) {
            (None, Some(l)) => Authenticator::hs256(
                var("C360_JWT_SECRET")
                    .unwrap_or_else(|| l.jwt_secret.to_string())
                    .as_bytes(),
                None,
                None,
            ),
            _ => Authenticator::from_env().map_err(ConfigError::new)?,
        };
        Ok(Access {
            auth,
            masking,
            audit: AuditLog::DynamoDb {
                client,
                table: var("C360_AUDIT_TABLE").unwrap_or_else(|| "customer360-audit".into()),
                retention_days,
            },
            hasher: SubjectHasher::new(key.as_bytes()),
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct LocalDefaults<'a> {
    pub jwt_secret: &'a str,
    pub audit_hash_key: &'a str,
}
