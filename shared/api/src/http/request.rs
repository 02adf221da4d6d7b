//! One request, from checked parameters to its answer: the intent (which read, for whom, in
//! which scope), the cache slot it may be served from, the audit subject, and the execution.

use super::errors::*;
use super::params::{Params, CUSTOMER_REF_TYPE};
use super::{App, Endpoint};
use crate::audit::{AuditRecord, SubjectHasher};
use crate::auth::AuthError;
use crate::erase;
use crate::reads::{Answer, ReadError};
use crate::recommend::RecommendationKind;
use crate::seal::add_customer_refs;
use c360_domain::access::{mask_answer, Caller, Masking, Role};
use c360_domain::projection::insights::Daypart;
use c360_domain::projection::Scope;
use c360_domain::time::Zone;
use c360_domain::view::{audit_answer, erase_answer, AuditEntry};
use c360_domain::{Identifier, IdentifierType, Millis, StoreId};
use c360_dynamodb::keys::is_audit_sk;
use c360_runtime::cache::{CacheUse, Slot};
use lambda_http::{Request, RequestExt};
use serde_json::Value;

/// Where the answer to `intent` is cached for a caller of `role` with `masking`: the reads
/// are, the audit listing and erasure are not. A recommendation depends on when it is asked
/// (`now` in the deployment's `zone`): dishes on the daypart (the popular fill) and the day
/// (the days since each order), coupons on the day (a birthday-week perk), so their slots
/// carry the local date and, for dishes, the daypart: a lunch answer is never served at
/// afternoon tea, whatever the cache's TTL.
pub(super) fn cache_slot(
    intent: &Intent,
    role: Role,
    masking: Masking,
    now: Millis,
    zone: &Zone,
) -> Option<Slot> {
    let role = role.as_str();
    // `monthly_spend` ends with the local month: an answer cached before a month's first
    // midnight must not be served after it.
    let local = zone.format(now);
    let month = local.get(..7).unwrap_or(&local);
    match intent {
        Intent::Profile(id, scope) => Some(Slot::customer(
            "profile",
            id,
            scope,
            role,
            masking,
            &[month],
        )),
        Intent::Value(id, scope) => {
            Some(Slot::customer("value", id, scope, role, masking, &[month]))
        }
        Intent::Timeline {
            id,
            scope,
            limit,
            cursor,
        } => Some(Slot::customer(
            "timeline",
            id,
            scope,
            role,
            masking,
            &[&limit.to_string(), cursor.as_deref().unwrap_or("")],
        )),
        Intent::Search {
            query,
            scope,
            limit,
        } => Some(Slot::search(
            scope,
            role,
            masking,
            &[&limit.to_string(), query.trim()],
        )),
        Intent::Recommendations {
            id,
            scope,
            kind,
            limit,
        } => {
            let local = zone.format(now);
            let date = local.get(..10).unwrap_or(&local);
            let daypart = match kind {
                RecommendationKind::Dishes => Daypart::of(now, zone).as_str(),
                RecommendationKind::Coupons => "",
            };
            Some(Slot::customer(
                "recommendations",
                id,
                scope,
                role,
                masking,
                &[kind.as_str(), &limit.to_string(), date, daypart],
            ))
        }
        Intent::Audit { .. } | Intent::Erase(_) => None,
    }
}

/// The answer to `intent` as the caller may see it (masked), from the cache when it holds a
/// current one (cache-aside: a miss reads DynamoDB and stores what it served).
pub(super) async fn answer(
    app: &App,
    intent: Intent,
    now: Millis,
    masking: Masking,
    slot: Option<Slot>,
) -> (Result<Value, ApiError>, CacheUse) {
    let refs = app.access.hasher.customer_refs();
    let masked = |a: Answer| {
        let Answer { mut data, names } = a;
        add_customer_refs(&mut data, refs);
        mask_answer(&mut data, masking, &names);
        data
    };
    let Some(slot) = slot.filter(|_| app.cache.enabled()) else {
        return (execute(app, intent, now).await.map(masked), CacheUse::Off);
    };
    match app.cache.get(&slot).await {
        Ok(Ok(data)) => (Ok(data), CacheUse::Hit),
        Ok(Err(seen)) => {
            let result = execute(app, intent, now).await.map(masked);
            if let Ok(data) = &result {
                app.cache.put(&slot, &seen, data).await;
            }
            (result, CacheUse::Miss)
        }
        Err(()) => (
            execute(app, intent, now).await.map(masked),
            CacheUse::Bypass,
        ),
    }
}

pub(super) fn id_kind(id: &Identifier) -> &'static str {
    match id.kind() {
        IdentifierType::Phone => "phone number",
        IdentifierType::MemberId => "member id",
        IdentifierType::Email => "email",
    }
}

/// What a request asks for, once it is authenticated, valid and allowed.
pub(super) enum Intent {
    Profile(Identifier, Scope),
    Value(Identifier, Scope),
    Timeline {
        id: Identifier,
        scope: Scope,
        limit: usize,
        cursor: Option<String>,
    },
    Search {
        query: String,
        scope: Scope,
        limit: usize,
    },
    Audit {
        id: Identifier,
        store: Option<StoreId>,
        limit: usize,
        /// The audit sort key the page starts below (from the previous page's cursor).
        before: Option<String>,
        /// What this trail's cursors are bound to: the identifier asked and the scope.
        cursor_owner: String,
    },
    Erase(Identifier),
    Recommendations {
        id: Identifier,
        scope: Scope,
        kind: RecommendationKind,
        limit: usize,
    },
}

pub(super) fn scope_label(scope: &Scope) -> String {
    match scope {
        Scope::AllStores => "all".to_string(),
        Scope::Store(s) => s.as_str().to_string(),
    }
}

/// The keyed hash of what the request asks about, recorded even when the request fails.
pub(super) fn note_subject(
    hasher: &SubjectHasher,
    endpoint: Endpoint,
    req: &Request,
    audit: &mut AuditRecord,
) {
    let params = req.query_string_parameters_ref();
    let first = |k: &str| params.and_then(|q| q.first(k)).map(str::to_string);
    if endpoint == Endpoint::Search {
        if let Some(q) = first("query").filter(|q| !q.trim().is_empty()) {
            // A search by a whole phone number or email is a look at that customer.
            let as_id = Identifier::parse(IdentifierType::Phone, &q)
                .or_else(|_| Identifier::parse(IdentifierType::Email, &q));
            audit.identifier_type = Some("query".into());
            audit.subject = Some(match as_id {
                Ok(id) => hasher.identifier(&id),
                Err(_) => hasher.raw("query", q.trim()),
            });
        }
        return;
    }
    let Some(raw) = first("customer_identifier").filter(|v| !v.trim().is_empty()) else {
        return;
    };
    let kind_text = first("identifier_type").unwrap_or_else(|| "phone".into());
    if kind_text == CUSTOMER_REF_TYPE {
        // The customer the ref stands for, hashed like the identifier itself: the audit of
        // that customer lists lookups by ref too.
        let refs = hasher.customer_refs();
        audit.identifier_type = Some(CUSTOMER_REF_TYPE.into());
        audit.subject = Some(match refs.open(&raw) {
            Some(id) => hasher.identifier(&id),
            None => hasher.raw(CUSTOMER_REF_TYPE, raw.trim()),
        });
        return;
    }
    // Only a known type is kept as given: the parameter is free text and could hold anything.
    audit.identifier_type = Some(
        IdentifierType::parse(&kind_text)
            .map(|k| k.as_str().to_string())
            .unwrap_or_else(|_| "invalid".to_string()),
    );
    audit.subject = Some(
        match IdentifierType::parse(&kind_text).and_then(|k| Identifier::parse(k, &raw)) {
            Ok(id) => hasher.identifier(&id),
            Err(_) => hasher.raw(&kind_text, raw.trim()),
        },
    );
}

/// Authenticates, validates and checks scope: everything decided before any read.
pub(super) fn prepare(
    app: &App,
    endpoint: Endpoint,
    req: &Request,
    audit: &mut AuditRecord,
) -> Result<(Caller, Intent), ApiError> {
    // API Gateway routes only the endpoint's method here, but `cargo lambda watch` and the
    // dev server route by path alone: a POST must not be served as the GET it is not (nor a
    // GET erase a customer). Checked before authentication, as the segments routes are.
    if req.method().as_str() != endpoint.method() {
        return Err(ApiError::MethodNotAllowed(
            format!(
                "{} accepts {}, not {}.",
                endpoint.path(),
                endpoint.method(),
                echoed(req.method().as_str())
            ),
            endpoint.method(),
        ));
    }
    let caller = app.access.auth.authenticate(req).map_err(|e| match e {
        AuthError::Unauthenticated(why) => ApiError::Unauthenticated(why.to_string()),
        AuthError::Forbidden(why) => ApiError::Forbidden(why),
    })?;
    audit.sub = Some(caller.sub.clone());
    audit.role = Some(caller.role.as_str().to_string());
    match endpoint {
        Endpoint::Audit => caller.require_admin().map_err(denied)?,
        Endpoint::Erase => caller.require_super_admin().map_err(denied)?,
        _ => {}
    }
    let p = Params::from_request(req, endpoint)?;
    let refs = app.access.hasher.customer_refs();
    let intent = match endpoint {
        Endpoint::Profile | Endpoint::Value | Endpoint::Timeline => {
            let id = p.identifier(refs)?;
            let limit = p.limit(50)?;
            let scope = caller.scope(p.store()?).map_err(denied)?;
            audit.scope = Some(scope_label(&scope));
            match endpoint {
                Endpoint::Profile => Intent::Profile(id, scope),
                Endpoint::Value => Intent::Value(id, scope),
                _ => Intent::Timeline {
                    id,
                    scope,
                    limit,
                    cursor: p.get("cursor").map(str::to_string),
                },
            }
        }
        Endpoint::Search => {
            let query = p.required("query")?;
            if query.chars().count() > 64 {
                return Err(ApiError::InvalidParameter(
                    "Parameter `query` must be at most 64 characters.".into(),
                ));
            }
            let limit = p.limit(20)?;
            let scope = caller.scope(p.store()?).map_err(denied)?;
            audit.scope = Some(scope_label(&scope));
            Intent::Search {
                query: query.to_string(),
                scope,
                limit,
            }
        }
        Endpoint::Audit => {
            let id = p.identifier(refs)?;
            let limit = p.limit(50)?;
            let scope = caller.scope(p.store()?).map_err(denied)?;
            audit.scope = Some(scope_label(&scope));
            // A cursor pages the trail of this identifier in this scope only, as a timeline
            // cursor does (field report: one from another scope paged on from its point).
            let cursor_owner = format!("{}#{}", id.key(), scope_label(&scope));
            let store = match scope {
                Scope::AllStores => None,
                Scope::Store(s) => Some(s),
            };
            let before = match p.get("cursor") {
                None => None,
                Some(c) => Some(
                    app.access
                        .hasher
                        .audit_cursors()
                        .open(&cursor_owner, c)
                        .filter(|k| is_audit_sk(k))
                        .ok_or_else(|| {
                            ApiError::InvalidParameter(
                                "Parameter `cursor` is not a cursor of this customer's audit trail in this scope; use `next_cursor` from the previous page.".into(),
                            )
                        })?,
                ),
            };
            Intent::Audit {
                id,
                store,
                limit,
                before,
                cursor_owner,
            }
        }
        Endpoint::Erase => {
            audit.scope = Some(scope_label(&Scope::AllStores));
            Intent::Erase(p.identifier(refs)?)
        }
        Endpoint::Recommendations => {
            let id = p.identifier(refs)?;
            let kind = match p.get("kind").map(str::trim) {
                None | Some("dishes") => RecommendationKind::Dishes,
                Some("coupons") => RecommendationKind::Coupons,
                Some(other) => {
                    return Err(ApiError::InvalidParameter(format!(
                        "Parameter `kind` must be `dishes` or `coupons`; got `{}`.",
                        echoed(other)
                    )))
                }
            };
            let limit = p.limit_up_to(10, c360_recommend::MAX_RECOMMENDATIONS)?;
            let scope = caller.scope(p.store()?).map_err(denied)?;
            audit.scope = Some(scope_label(&scope));
            Intent::Recommendations {
                id,
                scope,
                kind,
                limit,
            }
        }
    };
    Ok((caller, intent))
}

pub(super) async fn execute(app: &App, intent: Intent, now: Millis) -> Result<Answer, ApiError> {
    let reads = &app.reads;
    match intent {
        Intent::Profile(id, scope) => reads
            .profile(&id, &scope, now)
            .await
            .map_err(|e| read_error(e, id_kind(&id))),
        Intent::Value(id, scope) => reads
            .value(&id, &scope, now)
            .await
            .map_err(|e| read_error(e, id_kind(&id))),
        Intent::Recommendations {
            id,
            scope,
            kind,
            limit,
        } => reads
            .recommendations(&id, &scope, kind, limit, now)
            .await
            .map_err(|e| read_error(e, id_kind(&id))),
        Intent::Timeline {
            id,
            scope,
            limit,
            cursor,
        } => reads
            .timeline(
                &id,
                &scope,
                limit,
                cursor.as_deref(),
                app.access.hasher.timeline_cursors(),
                now,
            )
            .await
            .map_err(|e| read_error(e, id_kind(&id))),
        Intent::Search {
            query,
            scope,
            limit,
        } => reads
            .search(&query, &scope, limit, now)
            .await
            .map(Answer::anonymous)
            .map_err(|e| read_error(e, "query")),
        Intent::Audit {
            id,
            store,
            limit,
            before,
            cursor_owner,
        } => {
            // Everyone who looked at any of the customer's identifiers; an erased or unknown
            // customer still has the lookups made by the identifier asked about.
            let cluster = match reads.resolve(&id).await {
                Ok(c) => c,
                Err(ReadError::NotFound) => vec![id.clone()],
                Err(e) => return Err(read_error(e, id_kind(&id))),
            };
            let mut subjects: Vec<String> = cluster
                .iter()
                .chain(std::iter::once(&id))
                .map(|i| app.access.hasher.identifier(i))
                .collect();
            subjects.sort();
            subjects.dedup();
            let page = app
                .access
                .audit
                .list(&subjects, store.as_ref(), limit, before.as_deref())
                .await
                .map_err(store_error)?;
            let accesses: Vec<AuditEntry> = page
                .records
                .iter()
                .map(|r| AuditEntry {
                    at: r.at,
                    sub: r.sub.as_deref(),
                    role: r.role.as_deref(),
                    endpoint: &r.endpoint,
                    scope: r.scope.as_deref(),
                    status: r.status,
                    request_id: &r.request_id,
                })
                .collect();
            Ok(Answer::anonymous(audit_answer(
                &id,
                &accesses,
                page.next
                    .as_deref()
                    .and_then(|k| app.access.hasher.audit_cursors().seal(&cursor_owner, k)),
                &reads.config().zone,
            )))
        }
        Intent::Erase(id) => {
            // Nothing cached about the customer may outlive the erasure: their answers by any
            // identifier and (search hits can be anywhere) every search answer, all dropped by
            // moving the epoch. First, even through an open breaker: an erasure that cannot
            // reach Redis does not start (503, nothing erased, the admin retries), or the
            // cached answers would be served again once Redis is back. Then again after the
            // deletes, for answers computed while they ran.
            if !app.cache.invalidate_all_now().await {
                return Err(ApiError::CacheUnreachable);
            }
            let erased = erase::erase(&app.segments, &id, now)
                .await
                .map_err(|e| read_error(e, id_kind(&id)))?;
            let ids: Vec<Identifier> = erased.identifiers.to_vec();
            let (_, cleared) = tokio::join!(
                app.cache.invalidate(&ids, &[]),
                app.cache.invalidate_all_now()
            );
            if !cleared {
                tracing::warn!(
                    "erasure: Redis was lost during the erasure; answers computed while it ran may be served until their TTL"
                );
            }
            Ok(Answer::anonymous(erase_answer(
                &id,
                erased.identifiers.len(),
                erased.items_deleted,
                cleared,
            )))
        }
    }
}
