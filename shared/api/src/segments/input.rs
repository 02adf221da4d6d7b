//! What a segments request says: its parameters and body, checked before anything is read;
//! each mistake is a 400 naming it.

use super::PATH;
use crate::audit::AuditRecord;
use crate::http::{denied, echoed, limit, ApiError};
use c360_domain::access::Caller;
use c360_domain::projection::Scope;
use c360_domain::segment::{Filter, SegmentDef};
use c360_domain::{Identifier, IdentifierType, StoreId};
use serde_json::Value;

/// Members per page: default and most.
pub(super) const DEFAULT_LIMIT: usize = 50;
pub(super) const MAX_LIMIT: usize = 200;
/// Customers one check may ask about.
pub(super) const MAX_CHECK: usize = 100;

pub(super) fn param<'a>(
    pairs: &'a [(String, String)],
    name: &str,
) -> Result<Option<&'a str>, ApiError> {
    let mut found = pairs.iter().filter(|(k, _)| k == name);
    let first = found.next().map(|(_, v)| v.as_str());
    if found.next().is_some() {
        return Err(ApiError::InvalidParameter(format!(
            "Parameter `{name}` is given more than once; give it once."
        )));
    }
    Ok(first)
}

/// For a saved segment's routes every parameter must be one the route takes.
pub(super) fn only_known(pairs: &[(String, String)], allowed: &[&str]) -> Result<(), ApiError> {
    match pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        Some((k, _)) if allowed.is_empty() => Err(ApiError::InvalidParameter(format!(
            "Unknown parameter `{}`; this route takes no query parameters.",
            echoed(k)
        ))),
        Some((k, _)) => Err(ApiError::InvalidParameter(format!(
            "Unknown parameter `{}`; this route accepts: {}.",
            echoed(k),
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

pub(super) fn text_field<'a>(
    body: &'a Value,
    name: &str,
    params: &'a [(String, String)],
) -> Option<String> {
    body.get(name)
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
}

pub(super) fn scope_of(
    caller: &Caller,
    pairs: &[(String, String)],
    body: &Value,
    audit: &mut AuditRecord,
) -> Result<Scope, ApiError> {
    let raw = match body.get("store_id") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => param(pairs, "store_id")?.map(str::to_string),
        Some(_) => {
            return Err(ApiError::InvalidParameter(
                "`store_id` must be a string.".into(),
            ))
        }
    };
    let store = raw
        .map(|s| {
            StoreId::parse(&s).map_err(|_| {
                ApiError::InvalidParameter(
                    "Parameter `store_id` must be 1-64 letters, digits, `-` or `_`.".into(),
                )
            })
        })
        .transpose()?;
    let scope = caller.scope(store).map_err(denied)?;
    audit.scope = Some(match &scope {
        Scope::AllStores => "all".to_string(),
        Scope::Store(s) => s.as_str().to_string(),
    });
    Ok(scope)
}

pub(super) fn limit_of(pairs: &[(String, String)], body: &Value) -> Result<usize, ApiError> {
    let raw = match body.get("limit") {
        Some(v) if !v.is_null() => Some(v.to_string()),
        _ => param(pairs, "limit")?.map(str::to_string),
    };
    limit(raw.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)
}

pub(super) fn cursor_of(
    pairs: &[(String, String)],
    body: &Value,
    cursors: &crate::seal::PageCursors,
    owner: &str,
) -> Result<Option<Identifier>, ApiError> {
    let raw = match body.get("cursor").and_then(Value::as_str) {
        Some(c) => Some(c.to_string()),
        None => param(pairs, "cursor")?.map(str::to_string),
    };
    let not_ours = || {
        ApiError::InvalidParameter(
            "Parameter `cursor` is not a cursor from this list in this scope; use `next_cursor` from the previous page.".into(),
        )
    };
    raw.map(|c| {
        cursors
            .open(owner, &c)
            .and_then(|key| Identifier::from_key(&key).ok())
            .ok_or_else(not_ours)
    })
    .transpose()
}

/// The customers a check asks about: `customer_identifier` (+ `identifier_type`) in the
/// query, or the body's `customers: [{customer_identifier, identifier_type?}, …]` (1 to 100).
pub(super) fn asked_identifiers(
    pairs: &[(String, String)],
    body: &Value,
) -> Result<Vec<Identifier>, ApiError> {
    let parse = |raw: &str, kind: Option<&str>| -> Result<Identifier, ApiError> {
        let kind = match kind {
            None => IdentifierType::Phone,
            Some(t) => IdentifierType::parse(t).map_err(|_| {
                ApiError::InvalidParameter(format!(
                    "`identifier_type` must be one of phone, member_id, email; got `{}`.",
                    echoed(t)
                ))
            })?,
        };
        Identifier::parse(kind, raw).map_err(|_| {
            ApiError::InvalidParameter(format!(
                "`{}` is not a valid {}.",
                echoed(raw),
                kind.as_str()
            ))
        })
    };
    let mut out = Vec::new();
    if let Some(raw) = param(pairs, "customer_identifier")? {
        out.push(parse(raw, param(pairs, "identifier_type")?)?);
    }
    if let Some(list) = body.get("customers") {
        let list = list.as_array().ok_or_else(|| {
            ApiError::InvalidParameter(
                "`customers` must be a list of {customer_identifier, identifier_type}.".into(),
            )
        })?;
        for c in list {
            let raw = c
                .get("customer_identifier")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ApiError::InvalidParameter(
                        "Each of `customers` needs a `customer_identifier` (text).".into(),
                    )
                })?;
            out.push(parse(
                raw,
                c.get("identifier_type").and_then(Value::as_str),
            )?);
        }
    }
    if out.is_empty() {
        return Err(ApiError::InvalidParameter(
            "Give `customer_identifier` (query) or `customers` (body): who to check.".into(),
        ));
    }
    if out.len() > MAX_CHECK {
        return Err(ApiError::InvalidParameter(format!(
            "At most {MAX_CHECK} customers per check; got {}.",
            out.len()
        )));
    }
    Ok(out)
}

/// A new or updated definition's fields from the body (`name` 1-100 characters, optional
/// `description` up to 500, `filter` in its JSON spelling); an update keeps what it omits.
pub(super) fn definition_fields(
    body: &Value,
    old: Option<&SegmentDef>,
) -> Result<(String, Option<String>, Filter), ApiError> {
    if !body.is_object() {
        return Err(ApiError::InvalidParameter(format!(
            "The body must be a JSON object: {{\"name\": …, \"filter\": …}}; see {PATH}."
        )));
    }
    if let Some(k) = body.as_object().and_then(|o| {
        o.keys()
            .find(|k| !["name", "description", "filter", "version"].contains(&k.as_str()))
    }) {
        return Err(ApiError::InvalidParameter(format!(
            "Unknown field `{k}`; a segment has name, description, filter (and version on update)."
        )));
    }
    let name = match (text_field(body, "name", &[]), old) {
        (Some(n), _) => n.trim().to_string(),
        (None, Some(o)) => o.name.clone(),
        (None, None) => String::new(),
    };
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::InvalidParameter(
            "`name` must be 1 to 100 characters.".into(),
        ));
    }
    let description = match body.get("description") {
        Some(Value::String(d)) if d.chars().count() <= 500 => Some(d.clone()),
        Some(Value::Null) => None,
        Some(_) => {
            return Err(ApiError::InvalidParameter(
                "`description` must be text of at most 500 characters.".into(),
            ))
        }
        None => old.and_then(|o| o.description.clone()),
    };
    let filter =
        match (body.get("filter"), old) {
            (Some(f), _) => {
                // A definition is one item (400 KB at most); 16 KB of filter is far more than
                // a segment needs.
                if f.to_string().len() > 16_384 {
                    return Err(ApiError::InvalidParameter(
                        "`filter` is larger than 16 KB; a segment's filter must be shorter.".into(),
                    ));
                }
                Filter::from_json(f).map_err(|e| ApiError::InvalidParameter(e.to_string()))?
            }
            (None, Some(o)) => o.filter.clone(),
            (None, None) => return Err(ApiError::InvalidParameter(
                "`filter` is required, e.g. {\"field\":\"rfm_score\",\"op\":\"gte\",\"value\":70}."
                    .into(),
            )),
        };
    Ok((name, description, filter))
}

/// `seg_` and 12 random hex digits.
pub(super) fn new_segment_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 6];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("seg_{}", hex::encode(bytes))
}
