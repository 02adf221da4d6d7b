//! Query parameters, validated before anything is read: each is given once, and a bad one
//! is a 400 naming it.

use super::errors::{echoed, ApiError};
use super::Endpoint;
use crate::seal::Seal;
use c360_domain::{Identifier, IdentifierType, StoreId};
use lambda_http::{Request, RequestExt};
use std::collections::BTreeMap;

/// The `identifier_type` of a sealed handle (`customer_ref`) rather than an identifier.
pub(super) const CUSTOMER_REF_TYPE: &str = "customer_ref";

/// Query parameters, validated against what the endpoint accepts: each known, each once.
pub(super) struct Params(BTreeMap<String, String>);

impl Params {
    pub(super) fn from_request(req: &Request, endpoint: Endpoint) -> Result<Params, ApiError> {
        let mut map = BTreeMap::new();
        for (k, v) in req
            .query_string_parameters_ref()
            .map(|q| {
                q.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
        {
            if !endpoint.allowed().contains(&k.as_str()) {
                return Err(ApiError::InvalidParameter(format!(
                    "Unknown parameter `{}`; {} accepts: {}.",
                    echoed(&k),
                    endpoint.path(),
                    endpoint.allowed().join(", ")
                )));
            }
            // Which of two values counts is not the caller's to guess, and for `store_id` it
            // would let parameter order pick the store: any repeat is refused.
            if map.insert(k.clone(), v).is_some() {
                return Err(ApiError::InvalidParameter(format!(
                    "Parameter `{k}` is given more than once; give it once."
                )));
            }
        }
        Ok(Params(map))
    }
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
    pub(super) fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                ApiError::InvalidParameter(format!("Missing required parameter `{name}`."))
            })
    }
    /// `customer_identifier` read as `identifier_type` says (default `phone`); with
    /// `customer_ref`, a ref this service handed out (search hits, segment members, customer
    /// answers: [`crate::seal::add_customer_refs`]) opened with `refs`.
    pub(super) fn identifier(&self, refs: &Seal) -> Result<Identifier, ApiError> {
        let raw = self.required("customer_identifier")?;
        let kind = match self.get("identifier_type") {
            None => IdentifierType::Phone,
            Some(CUSTOMER_REF_TYPE) => {
                return refs.open(raw).ok_or_else(|| {
                    ApiError::InvalidParameter(
                        "Parameter `customer_identifier` is not a `customer_ref` this service handed out (search results, segment members and customer answers carry one); it may have been cut or altered.".into(),
                    )
                })
            }
            Some(t) => IdentifierType::parse(t).map_err(|_| {
                ApiError::InvalidParameter(format!(
                    "Parameter `identifier_type` must be one of phone, member_id, email, customer_ref; got `{}`.",
                    echoed(t)
                ))
            })?,
        };
        Identifier::parse(kind, raw).map_err(|_| {
            ApiError::InvalidParameter(match kind {
                IdentifierType::Phone => "Parameter `customer_identifier` is not a plausible mobile number (11 digits starting with 1, optionally +86).".to_string(),
                IdentifierType::MemberId => "Parameter `customer_identifier` is not a valid member id (1 to 64 letters, digits, `-` or `_`).".to_string(),
                IdentifierType::Email => "Parameter `customer_identifier` is not a valid email address.".to_string(),
            })
        })
    }
    pub(super) fn store(&self) -> Result<Option<StoreId>, ApiError> {
        match self.get("store_id") {
            None => Ok(None),
            Some(s) => StoreId::parse(s).map(Some).map_err(|_| {
                ApiError::InvalidParameter(
                    "Parameter `store_id` must be 1-64 letters, digits, `-` or `_`.".into(),
                )
            }),
        }
    }
    pub(super) fn limit(&self, default: usize) -> Result<usize, ApiError> {
        self.limit_up_to(default, 200)
    }

    /// `limit`, 1 to `max`, `default` when absent.
    pub(super) fn limit_up_to(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        limit(self.get("limit"), default, max)
    }
}

/// A `limit` as sent (`None`: absent), 1 to `max`, `default` when absent: ASCII digits
/// only. `usize`'s own parse also takes a leading `+`, and `limit=+5` in a URL arrives as
/// ` 5` (a `+` is a space in a query string): neither is a whole number as the message
/// states it, so both are refused rather than guessed at.
pub(crate) fn limit(raw: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    let Some(v) = raw else {
        return Ok(default);
    };
    match v.parse::<usize>() {
        Ok(n) if v.bytes().all(|b| b.is_ascii_digit()) && (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::InvalidParameter(format!(
            "Parameter `limit` must be a whole number from 1 to {max}; got `{}`.",
            echoed(v)
        ))),
    }
}
