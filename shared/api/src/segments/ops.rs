//! What each segments route does once the caller is known and allowed (over 400 lines: the
//! nine routes read best side by side, with the two ways of answering them, from member items
//! or live from the roster; their inputs are `input.rs`).

use super::input::*;
use super::{inline_filter, json_body, query_pairs, Reply, Route, Target};
use crate::audit::AuditRecord;
use crate::http::{store_error, ApiError, App};
use crate::seal::PageCursors;
use c360_domain::access::{mask_answer, Caller, Role};
use c360_domain::prediction::StoreModel;
use c360_domain::projection::Scope;
use c360_domain::segment::{canonical, Filter, SegmentDef, MAX_SAVED_SEGMENTS};
use c360_domain::{Identifier, Millis};
use c360_dynamodb::store::{Created, StoreError, StoredRow};
use lambda_http::Request;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Roster rows one live page reads at most (a few index Query pages): a page of a sparse
/// filter may come back short, with a cursor to go on from.
const LIVE_PAGE_ROWS: usize = 2_000;
/// Roster rows per index Query.
const ROSTER_QUERY_ROWS: usize = 500;
/// The query parameters besides the filter that each route takes: a parameter a route would
/// ignore is a 400 naming it (field report: `export?limit=5` exported every member).
const MEMBERS_PARAMS: &[&str] = &["store_id", "limit", "cursor"];
const SCOPE_PARAMS: &[&str] = &["store_id"];
const CHECK_PARAMS: &[&str] = &["store_id", "customer_identifier", "identifier_type"];

fn scope_json(scope: &Scope) -> Value {
    match scope {
        Scope::AllStores => Value::Null,
        Scope::Store(s) => json!(s.as_str()),
    }
}

/// What a membership question runs against: a saved segment's member items, or a filter
/// evaluated live over the scope's roster (an inline filter, or a saved segment whose
/// member items are not complete yet).
struct Source {
    segment: Option<SegmentDef>,
    filter: Filter,
    materialized: bool,
}

impl Source {
    fn label(&self) -> &'static str {
        if self.materialized {
            "members"
        } else {
            "live"
        }
    }
    fn head(&self, scope: &Scope, now: Millis, app: &App) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert(
            "segment_id".into(),
            json!(self.segment.as_ref().map(|s| s.id.clone())),
        );
        m.insert("store_id".into(), scope_json(scope));
        m.insert("filter".into(), self.filter.to_json());
        m.insert("evaluated_from".into(), json!(self.label()));
        m.insert(
            "computed_at".into(),
            json!(app.reads.config().zone.format(now)),
        );
        m
    }
}

async fn source(
    app: &App,
    target: &Target,
    pairs: &[(String, String)],
    body: &Value,
    params: &[&str],
) -> Result<Source, ApiError> {
    match target {
        Target::Inline => Ok(Source {
            segment: None,
            filter: inline_filter(pairs, body, params)?,
            materialized: false,
        }),
        Target::Saved(id) => {
            only_known(pairs, params)?;
            let def = saved(app.segments.store(), id).await?;
            Ok(Source {
                filter: def.filter.clone(),
                materialized: def.built_at.is_some(),
                segment: Some(def),
            })
        }
    }
}

/// The scope's fitted model, when the filter needs predictions (one GetItem-sized read).
async fn model_for(
    app: &App,
    filter: &Filter,
    scope: &Scope,
) -> Result<Option<StoreModel>, ApiError> {
    if !filter.needs_predictions() {
        return Ok(None);
    }
    Ok(app
        .segments
        .store()
        .load_with_models(None, &[], &[], std::slice::from_ref(scope), false)
        .await
        .map_err(store_error)?
        .models
        .remove(scope))
}

/// Walks the roster from `after`, keeping the rows that match, until `want` matched or
/// `budget` rows were read (`None`: no bound). Returns the matches and where to go on.
async fn live_walk(
    app: &App,
    source: &Source,
    scope: &Scope,
    now: Millis,
    mut after: Option<Identifier>,
    want: Option<usize>,
    budget: Option<usize>,
) -> Result<(Vec<StoredRow>, Option<Identifier>), ApiError> {
    let model = model_for(app, &source.filter, scope).await?;
    let e = app.segments.evaluation(scope, model.as_ref(), now);
    let with_predictions = source.filter.needs_predictions();
    let mut out = Vec::new();
    let mut read = 0usize;
    loop {
        let page_size = match (want, budget) {
            (Some(_), Some(b)) => ROSTER_QUERY_ROWS.min(b.saturating_sub(read)).max(1),
            _ => ROSTER_QUERY_ROWS,
        };
        let (rows, more) = app
            .segments
            .store()
            .roster_page(scope, page_size, after.as_ref())
            .await
            .map_err(store_error)?;
        let in_page = rows.len();
        for (i, row) in rows.into_iter().enumerate() {
            read += 1;
            let last = row.node.clone();
            if source
                .filter
                .matches(&row.row.figures(scope, &e, with_predictions))
            {
                out.push(row);
            }
            if want.is_some_and(|w| out.len() >= w) || budget.is_some_and(|b| read >= b) {
                // Go on after this row, unless it was the roster's last.
                let at_end = i + 1 == in_page && more.is_none();
                return Ok((out, (!at_end).then_some(last)));
            }
        }
        match more {
            Some(m) => after = Some(m),
            None => return Ok((out, None)),
        }
    }
}

/// The saved segment `id`; [`ApiError::SegmentNotFound`] when there is none.
async fn saved(store: &c360_dynamodb::store::Store, id: &str) -> Result<SegmentDef, ApiError> {
    store
        .segment_def(id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::SegmentNotFound(id.to_string()))
}

/// Whether `caller` may change or delete `def`: a `super_admin` any segment, a `store_admin`
/// only those of their own store ([`SegmentDef::owner_store`]). Anyone else never gets here
/// (writes are for admins, `Route::admins_only`). Field report: an admin of one store renamed
/// and deleted another store's segments.
fn may_change(caller: &Caller, def: &SegmentDef) -> Result<(), ApiError> {
    if caller.role == Role::SuperAdmin {
        return Ok(());
    }
    match &def.owner_store {
        Some(owner) if caller.store.as_ref() == Some(owner) => Ok(()),
        Some(owner) => Err(ApiError::Forbidden(format!(
            "Segment {} belongs to store {}: only its admins or a super_admin may change or delete it.",
            def.id,
            owner.as_str()
        ))),
        None => Err(ApiError::Forbidden(format!(
            "Segment {} is brand-wide: only a super_admin may change or delete it.",
            def.id
        ))),
    }
}

pub(super) async fn run(
    app: &App,
    caller: &Caller,
    route: Route,
    req: &Request,
    now: Millis,
    audit: &mut AuditRecord,
) -> Result<Reply, ApiError> {
    let pairs = query_pairs(req);
    let body = json_body(req)?;
    // A misspelt key must not widen what is read or exported ("filtr" would select everyone).
    let allowed: &[&str] = match &route {
        Route::Create | Route::Update(_) => &["name", "description", "filter", "version"],
        Route::Check(_) => &["filter", "store_id", "customers"],
        Route::Members(_) => &["filter", "store_id", "limit", "cursor"],
        Route::Count(_) | Route::Export(_) => &["filter", "store_id"],
        Route::List | Route::Get(_) | Route::Delete(_) => &[],
    };
    match &body {
        Value::Null => {}
        Value::Object(o) => {
            if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(ApiError::InvalidParameter(format!(
                    "Unknown field `{k}` in the body; this route accepts: {}.",
                    allowed.join(", ")
                )));
            }
        }
        _ => {
            return Err(ApiError::InvalidParameter(
                "The body must be a JSON object.".into(),
            ))
        }
    }
    let zone = app.reads.config().zone;
    let store = app.segments.store();
    let masking = app.access.masking.for_role(caller.role);
    let refs = app.access.hasher.customer_refs();
    let masked = |mut v: Value| {
        crate::seal::add_customer_refs(&mut v, refs);
        mask_answer(&mut v, masking, &[]);
        v
    };
    match route {
        Route::List => {
            only_known(&pairs, &[])?;
            let defs = store.segment_defs().await.map_err(store_error)?;
            let list: Vec<Value> = defs.iter().map(|d| d.json(&zone)).collect();
            Ok(Reply::Json(
                200,
                json!({"segments": list, "total": list.len(), "computed_at": zone.format(now)}),
            ))
        }
        Route::Create => {
            only_known(&pairs, &[])?;
            let (name, description, filter) = definition_fields(&body, None)?;
            let def = SegmentDef {
                id: new_segment_id(),
                name,
                description,
                filter,
                version: 1,
                created_at: now,
                updated_at: now,
                created_by: Some(caller.sub.clone()),
                // A store admin's segment is their store's to change; a super_admin's is
                // brand-wide.
                owner_store: match caller.role {
                    Role::SuperAdmin => None,
                    _ => caller.store.clone(),
                },
                built_at: None,
            };
            let created = store
                .create_segment_def(&def, MAX_SAVED_SEGMENTS)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict => ApiError::Conflict(
                        "Saved segments are being changed by someone else; try again.".into(),
                    ),
                    e => store_error(e),
                })?;
            if created == Created::Full {
                return Err(ApiError::Conflict(format!(
                    "There are already {MAX_SAVED_SEGMENTS} saved segments, the most this service keeps current; delete one first."
                )));
            }
            app.segments.refresh_defs();
            audit.detail = Some(format!("segment={}", def.id));
            Ok(Reply::Json(201, def.json(&zone)))
        }
        Route::Get(id) => {
            only_known(&pairs, &[])?;
            let def = saved(store, &id).await?;
            Ok(Reply::Json(200, def.json(&zone)))
        }
        Route::Update(id) => {
            only_known(&pairs, &[])?;
            let old = saved(store, &id).await?;
            may_change(caller, &old)?;
            if let Some(v) = body.get("version") {
                // A version that is no number is the caller's mistake, not a conflict.
                if !v.is_i64() {
                    return Err(ApiError::InvalidParameter(format!(
                        "`version` must be a whole number (the segment's, {}); got {v}.",
                        old.version
                    )));
                }
                if v.as_i64() != Some(old.version) {
                    return Err(ApiError::Conflict(format!(
                        "Segment {id} is at version {}, not {v}: read it again and apply your change to that.",
                        old.version
                    )));
                }
            }
            let (name, description, filter) = definition_fields(&body, Some(&old))?;
            let def = SegmentDef {
                name,
                description,
                filter,
                version: old.version + 1,
                updated_at: now,
                built_at: None,
                ..old.clone()
            };
            store
                .replace_segment_def(&def, old.version)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict => ApiError::Conflict(format!(
                        "Segment {id} changed meanwhile; read it again."
                    )),
                    e => store_error(e),
                })?;
            app.segments.refresh_defs();
            audit.detail = Some(format!("segment={id}"));
            Ok(Reply::Json(200, def.json(&zone)))
        }
        Route::Delete(id) => {
            only_known(&pairs, &[])?;
            let def = saved(store, &id).await?;
            may_change(caller, &def)?;
            let deleted = store.delete_segment_def(&id).await.map_err(|e| match e {
                StoreError::Conflict => ApiError::Conflict(
                    "Saved segments are being changed by someone else; try again.".into(),
                ),
                e => store_error(e),
            })?;
            if !deleted {
                return Err(ApiError::SegmentNotFound(id));
            }
            app.segments.refresh_defs();
            audit.detail = Some(format!("segment={id}"));
            Ok(Reply::Json(200, json!({"segment_id": id, "deleted": true})))
        }
        Route::Members(target) => {
            let scope = scope_of(caller, &pairs, &body, audit)?;
            let source = source(app, &target, &pairs, &body, MEMBERS_PARAMS).await?;
            let limit = limit_of(&pairs, &body)?;
            let cursors = PageCursors::new(
                app.access
                    .hasher
                    .derive_key(crate::seal::SEGMENT_MEMBER_CURSOR),
            );
            // A page of this list in this scope: a cursor of another segment, another inline
            // filter or another scope is a 400, not a page of that list from its point.
            let owner = format!(
                "{}#{}",
                source.segment.as_ref().map_or_else(
                    || format!("inline:{}", source.filter.to_json()),
                    |d| d.id.clone()
                ),
                scope.key()
            );
            let after = cursor_of(&pairs, &body, &cursors, &owner)?;
            let (rows, next) = if let (true, Some(def)) = (source.materialized, &source.segment) {
                let (ids, next) = store
                    .segment_member_page(&def.id, &scope, limit, after.as_ref())
                    .await
                    .map_err(store_error)?;
                let keys: Vec<(Identifier, Scope)> =
                    ids.iter().map(|i| (i.clone(), scope.clone())).collect();
                let mut found = store.segment_rows_at(&keys).await.map_err(store_error)?;
                let rows: Vec<StoredRow> = ids.iter().filter_map(|i| found.remove(i)).collect();
                (rows, next)
            } else {
                live_walk(
                    app,
                    &source,
                    &scope,
                    now,
                    after,
                    Some(limit),
                    Some(LIVE_PAGE_ROWS),
                )
                .await?
            };
            let e = app.segments.evaluation(&scope, None, now);
            let members: Vec<Value> = rows.iter().map(|r| r.row.hit(&e)).collect();
            let mut answer = source.head(&scope, now, app);
            answer.insert("order".into(), json!("customer_identifier_key"));
            answer.insert("count".into(), json!(members.len()));
            answer.insert("members".into(), json!(members));
            answer.insert(
                "next_cursor".into(),
                json!(next.as_ref().and_then(|n| cursors.seal(&owner, &n.key()))),
            );
            Ok(Reply::Json(200, masked(Value::Object(answer))))
        }
        Route::Count(target) => {
            let scope = scope_of(caller, &pairs, &body, audit)?;
            let source = source(app, &target, &pairs, &body, SCOPE_PARAMS).await?;
            let count = match (&source.segment, source.materialized) {
                (Some(def), true) => store
                    .segment_count(&def.id, &scope)
                    .await
                    .map_err(store_error)?,
                _ => live_walk(app, &source, &scope, now, None, None, None)
                    .await?
                    .0
                    .len() as i64,
            };
            let mut answer = source.head(&scope, now, app);
            answer.insert("count".into(), json!(count.max(0)));
            Ok(Reply::Json(200, Value::Object(answer)))
        }
        Route::Check(target) => {
            let scope = scope_of(caller, &pairs, &body, audit)?;
            let source = source(app, &target, &pairs, &body, CHECK_PARAMS).await?;
            let asked = asked_identifiers(&pairs, &body)?;
            if asked.len() == 1 {
                audit.identifier_type = Some(asked[0].kind().as_str().to_string());
                audit.subject = Some(app.access.hasher.identifier(&asked[0]));
            }
            let answers = check(app, &source, &scope, &asked, now).await?;
            let results: Vec<Value> = asked
                .iter()
                .zip(answers)
                .map(|(id, yes)| {
                    json!({
                        "customer_identifier": id.value(),
                        "identifier_type": id.kind().as_str(),
                        "in_segment": yes,
                    })
                })
                .collect();
            let mut answer = source.head(&scope, now, app);
            answer.insert("results".into(), json!(results));
            Ok(Reply::Json(200, masked(Value::Object(answer))))
        }
        Route::Export(target) => {
            let scope = scope_of(caller, &pairs, &body, audit)?;
            let source = source(app, &target, &pairs, &body, SCOPE_PARAMS).await?;
            let rows = all_members(app, &source, &scope, now).await?;
            let e = app.segments.evaluation(&scope, None, now);
            let mut hits = Value::Array(rows.iter().map(|r| r.row.hit(&e)).collect());
            mask_answer(&mut hits, masking, &[]);
            let text = to_csv(&hits)?;
            let name = source
                .segment
                .as_ref()
                .map_or("inline".to_string(), |s| s.id.clone());
            audit.detail = Some(format!("segment={name} rows={}", rows.len()));
            Ok(Reply::Csv {
                filename: format!("{name}-{}.csv", audit.scope.as_deref().unwrap_or("all")),
                text,
            })
        }
    }
}

/// Every member (all pages) of a source in a scope.
async fn all_members(
    app: &App,
    source: &Source,
    scope: &Scope,
    now: Millis,
) -> Result<Vec<StoredRow>, ApiError> {
    let store = app.segments.store();
    match (&source.segment, source.materialized) {
        (Some(def), true) => {
            let mut out = Vec::new();
            let mut after = None;
            loop {
                let (ids, next) = store
                    .segment_member_page(&def.id, scope, 1000, after.as_ref())
                    .await
                    .map_err(store_error)?;
                let keys: Vec<(Identifier, Scope)> =
                    ids.iter().map(|i| (i.clone(), scope.clone())).collect();
                let mut found = store.segment_rows_at(&keys).await.map_err(store_error)?;
                out.extend(ids.iter().filter_map(|i| found.remove(i)));
                match next {
                    Some(n) => after = Some(n),
                    None => return Ok(out),
                }
            }
        }
        _ => Ok(live_walk(app, source, scope, now, None, None, None)
            .await?
            .0),
    }
}

/// Whether each asked customer is in the source in the scope: identifiers resolved to their
/// customer (one BatchGetItem of nodes), then one BatchGetItem of member items (or of rows,
/// evaluated live).
async fn check(
    app: &App,
    source: &Source,
    scope: &Scope,
    asked: &[Identifier],
    now: Millis,
) -> Result<Vec<bool>, ApiError> {
    let store = app.segments.store();
    let nodes = store
        .load(None, asked, &[], false)
        .await
        .map_err(store_error)?
        .nodes;
    let canon: Vec<Identifier> = asked
        .iter()
        .map(|id| {
            nodes
                .get(id)
                .and_then(|n| canonical(&n.links.cluster).cloned())
                .unwrap_or_else(|| id.clone())
        })
        .collect();
    match (&source.segment, source.materialized) {
        (Some(def), true) => {
            let members = store
                .segment_members_among(&def.id, scope, &canon)
                .await
                .map_err(store_error)?;
            Ok(canon.iter().map(|c| members.contains(c)).collect())
        }
        _ => {
            let keys: Vec<(Identifier, Scope)> =
                canon.iter().map(|c| (c.clone(), scope.clone())).collect();
            let rows: BTreeMap<Identifier, StoredRow> =
                store.segment_rows_at(&keys).await.map_err(store_error)?;
            let model = model_for(app, &source.filter, scope).await?;
            let e = app.segments.evaluation(scope, model.as_ref(), now);
            let with_predictions = source.filter.needs_predictions();
            Ok(canon
                .iter()
                .map(|c| {
                    rows.get(c).is_some_and(|r| {
                        !r.row.stats.is_empty()
                            && source
                                .filter
                                .matches(&r.row.figures(scope, &e, with_predictions))
                    })
                })
                .collect())
        }
    }
}

/// The CSV columns of an export, in order (the member hit's fields).
pub(crate) const CSV_COLUMNS: [&str; 11] = [
    "customer_identifier",
    "identifier_type",
    "name",
    "phone",
    "member_id",
    "member_level",
    "total_orders",
    "total_spent",
    "customer_tier",
    "rfm_score",
    "last_activity_at",
];

/// A text cell as a spreadsheet will not run it: one starting with `=`, `+`, `-`, `@`, a tab
/// or a carriage return (a guest who calls themselves `=HYPERLINK(...)`) gets a leading `'`,
/// OWASP's advice against CSV injection. Identifiers never start so (phones are digits).
fn spreadsheet_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// Hits (already masked) as CSV text with a header row (the `csv` crate quotes as needed).
pub(super) fn to_csv(hits: &Value) -> Result<String, ApiError> {
    // A UTF-8 byte order mark first: Excel on a Chinese Windows reads a CSV without one in the
    // local code page (GBK) and garbles every name (field report). CSV readers skip it.
    let mut w = csv::Writer::from_writer("\u{feff}".as_bytes().to_vec());
    let fail = |e: csv::Error| {
        tracing::error!(error = %e, "csv export failed");
        ApiError::Internal
    };
    w.write_record(CSV_COLUMNS).map_err(fail)?;
    for hit in hits.as_array().into_iter().flatten() {
        let cells = CSV_COLUMNS.iter().map(|c| match hit.get(*c) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => spreadsheet_safe(s),
            Some(v) => v.to_string(),
        });
        w.write_record(cells).map_err(fail)?;
    }
    let bytes = w.into_inner().map_err(|e| {
        tracing::error!(error = %e, "csv export failed");
        ApiError::Internal
    })?;
    String::from_utf8(bytes).map_err(|_| ApiError::Internal)
}
