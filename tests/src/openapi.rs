//! The API contract, checked against real answers: `infra/openapi.yaml` (OpenAPI 3.1) is
//! compiled here into one JSON Schema 2020-12 validator per documented (method, path,
//! status), and [`assert_valid_response_for`] checks the status and body of an answer against
//! it. `TestEnv::get` calls [`assert_valid_response`] for every response the end-to-end tests
//! receive, so the handlers and the document cannot drift apart: an undocumented status, a
//! missing or extra field, a number sent as a string or an unknown error code fails the test
//! that received it.
//!
//! OpenAPI 3.1 Schema Objects are JSON Schema 2020-12, so a response's schema is validated
//! as it stands, inside a document that also carries the OpenAPI `components`: its
//! `#/components/schemas/...` references resolve against that document, with no rewriting.
//! Formats are asserted (`date-time`), not merely annotated.
//!
//! Only `application/json` bodies are validated: a response documented with another media
//! type only (the CSV of a segment export) has its status checked, not its body.
//!
//! A request the document has no operation for (a method a path does not take, a path it
//! does not list) may only be answered 405 or 404, in the shape of the components
//! `responses/MethodNotAllowed` and `responses/NotFound`: what the segments function answers
//! when no route matches.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// The document, compiled into the binary so a test never depends on the working directory.
pub const DOCUMENT: &str = include_str!("../../infra/openapi.yaml");

/// The media type every validated answer has (`spec/api.md`).
const MEDIA_TYPE: &str = "application/json";

/// The operations a path item may hold (OpenAPI 3.1), as the keys of the path item.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The component responses that answer a request without an operation, by status.
const NO_OPERATION: [(u16, &str); 2] = [(404, "NotFound"), (405, "MethodNotAllowed")];

/// (method in upper case, path, status).
type Key = (String, String, u16);

pub struct Contract {
    document: Value,
    /// (method, path, status) -> the validator of that response's body; `None` when the
    /// response has no `application/json` content (its body is not validated).
    responses: BTreeMap<Key, Option<jsonschema::Validator>>,
    /// What a request without an operation may be answered: status -> validator.
    no_operation: BTreeMap<u16, jsonschema::Validator>,
}

/// Follows a `$ref` to another part of the document (response objects may be references).
fn resolve<'a>(document: &'a Value, node: &'a Value) -> Result<&'a Value, String> {
    match node.get("$ref").and_then(Value::as_str) {
        None => Ok(node),
        Some(r) => {
            let pointer = r
                .strip_prefix('#')
                .ok_or_else(|| format!("only local references are supported, got `{r}`"))?;
            document
                .pointer(pointer)
                .ok_or_else(|| format!("`{r}` points nowhere in infra/openapi.yaml"))
        }
    }
}

/// The validator of one response object's JSON body; `None` when its content has no
/// `application/json` (another media type only). `what` names it in errors.
fn compile(
    document: &Value,
    components: &Value,
    response: &Value,
    what: &str,
) -> Result<Option<jsonschema::Validator>, String> {
    let response = resolve(document, response)?;
    let content = response
        .get("content")
        .and_then(Value::as_object)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| format!("{what}: no content"))?;
    let Some(media) = content.get(MEDIA_TYPE) else {
        return Ok(None);
    };
    let schema = media
        .get("schema")
        .ok_or_else(|| format!("{what}: no `{MEDIA_TYPE}` schema"))?;
    // The response's schema, with the components beside it so that its `#/components/...`
    // references resolve in this document.
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": components,
        "allOf": [schema],
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .map(Some)
        .map_err(|e| format!("{what}: the schema does not compile: {e}"))
}

/// Every violation of `body`, one line each with its location.
fn violations(validator: &jsonschema::Validator, body: &Value) -> String {
    let evaluation = validator.evaluate(body);
    let mut problems: Vec<String> = evaluation
        .iter_errors()
        .map(|e| {
            let at = e.instance_location.as_str();
            let at = if at.is_empty() { "(body)" } else { at };
            // Drop the wrapper's own prefix (`/allOf/0`) so the location reads as the
            // document's schema.
            let schema_at = e
                .schema_location
                .strip_prefix("/allOf/0")
                .unwrap_or(e.schema_location);
            format!("  at {at}: {} [schema {schema_at}]", e.error)
        })
        .collect();
    problems.dedup();
    if problems.is_empty() {
        problems.push("  (no detail)".into());
    }
    problems.join("\n")
}

impl Contract {
    /// Parses the document and compiles a validator for every documented response.
    pub fn parse(text: &str) -> Result<Contract, String> {
        let document: Value =
            serde_norway::from_str(text).map_err(|e| format!("infra/openapi.yaml: {e}"))?;
        if !document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1."))
        {
            return Err("infra/openapi.yaml must be OpenAPI 3.1.x".into());
        }
        let components = document
            .get("components")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let mut responses = BTreeMap::new();
        let paths = document["paths"]
            .as_object()
            .ok_or("infra/openapi.yaml has no paths")?;
        for (path, item) in paths {
            let mut operations = 0;
            for method in METHODS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                operations += 1;
                let method = method.to_ascii_uppercase();
                let answers = operation["responses"]
                    .as_object()
                    .ok_or_else(|| format!("{method} {path} has no responses"))?;
                for (status, response) in answers {
                    let code: u16 = status.parse().map_err(|_| {
                        format!("{method} {path}: response `{status}` is not a status code")
                    })?;
                    let validator = compile(
                        &document,
                        &components,
                        response,
                        &format!("{method} {path} {status}"),
                    )?;
                    responses.insert((method.clone(), path.clone(), code), validator);
                }
            }
            if operations == 0 {
                return Err(format!("{path} has no operation"));
            }
        }
        let mut no_operation = BTreeMap::new();
        for (status, name) in NO_OPERATION {
            let Some(response) = document.pointer(&format!("/components/responses/{name}")) else {
                continue;
            };
            let what = format!("components/responses/{name}");
            let validator = compile(&document, &components, response, &what)?
                .ok_or_else(|| format!("{what}: no `{MEDIA_TYPE}` content"))?;
            no_operation.insert(status, validator);
        }
        Ok(Contract {
            document,
            responses,
            no_operation,
        })
    }

    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The documented paths.
    pub fn paths(&self) -> Vec<String> {
        let paths: BTreeSet<String> = self.responses.keys().map(|(_, p, _)| p.clone()).collect();
        paths.into_iter().collect()
    }

    /// The documented operations, as (method in upper case, path).
    pub fn operations(&self) -> Vec<(String, String)> {
        let ops: BTreeSet<(String, String)> = self
            .responses
            .keys()
            .map(|(m, p, _)| (m.clone(), p.clone()))
            .collect();
        ops.into_iter().collect()
    }

    /// The method [`Contract::validate`] checks a path's answers against: GET if the path
    /// has it, else DELETE (then GET, for a path not documented at all).
    pub fn default_method(&self, path: &str) -> &'static str {
        let has = |m: &str| {
            self.responses
                .keys()
                .any(|(method, p, _)| method == m && p == path)
        };
        if !has("GET") && has("DELETE") {
            "DELETE"
        } else {
            "GET"
        }
    }

    /// The statuses documented for a path's [`Contract::default_method`].
    pub fn statuses(&self, path: &str) -> Vec<u16> {
        self.statuses_for(self.default_method(path), path)
    }

    /// The statuses documented for `method` (upper case) on a path.
    pub fn statuses_for(&self, method: &str, path: &str) -> Vec<u16> {
        self.responses
            .keys()
            .filter(|(m, p, _)| m == method && p == path)
            .map(|(_, _, s)| *s)
            .collect()
    }

    /// Checks one answer of a path's [`Contract::default_method`] (GET, or DELETE for a
    /// path without GET): see [`Contract::validate_for`].
    pub fn validate(&self, path: &str, status: u16, body: &Value) -> Result<(), String> {
        self.validate_for(self.default_method(path), path, status, body)
    }

    /// Checks one answer of `method path` (`method` upper case, `path` as documented, with
    /// its templates: `/api/v1/customer360/segments/{segment_id}`): its status is documented
    /// and its body validates against that status's schema (a non-JSON response's body is
    /// not checked). A request without an operation may only be answered as the module's
    /// documentation says. The error lists every violation with its location.
    pub fn validate_for(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Result<(), String> {
        let key = (method.to_string(), path.to_string(), status);
        let validator = match self.responses.get(&key) {
            Some(Some(v)) => v,
            Some(None) => return Ok(()),
            None => {
                let documented = self.statuses_for(method, path);
                if !documented.is_empty() {
                    return Err(format!(
                        "{method} {path} answered {status}, which infra/openapi.yaml does not document (documented: {documented:?})"
                    ));
                }
                match self.no_operation.get(&status) {
                    Some(v) => v,
                    None => {
                        return Err(format!(
                            "{method} {path} is not in infra/openapi.yaml (and answered {status}, not 404 or 405)"
                        ))
                    }
                }
            }
        };
        if validator.is_valid(body) {
            return Ok(());
        }
        Err(format!(
            "{method} {path} {status}: the body does not match infra/openapi.yaml:\n{}",
            violations(validator, body)
        ))
    }
}

/// The contract of `infra/openapi.yaml`, compiled once per test binary.
pub fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        Contract::parse(DOCUMENT).unwrap_or_else(|e| panic!("infra/openapi.yaml: {e}"))
    })
}

/// [`Contract::validate`] against `infra/openapi.yaml` (the path's GET, else its DELETE),
/// panicking with every violation and the body when the answer does not match.
pub fn assert_valid_response(path: &str, status: u16, body: &Value) {
    assert_valid_response_for(contract().default_method(path), path, status, body);
}

/// [`Contract::validate_for`] against `infra/openapi.yaml` (`method` upper case, like
/// `"POST"`; `path` with its templates), panicking with every violation and the body when
/// the answer does not match.
pub fn assert_valid_response_for(method: &str, path: &str, status: u16, body: &Value) {
    if let Err(e) = contract().validate_for(method, path, status, body) {
        let body = serde_json::to_string_pretty(body).unwrap_or_default();
        panic!(
            "{e}\nThe answer and infra/openapi.yaml have drifted apart: fix the handler or describe the change in the document.\nbody: {body}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use c360_api::http::{handle, App, Endpoint};
    use c360_api::reads::Reads;
    use c360_domain::segment::{Evaluation, Filter, SegmentDef, SegmentRow};
    use c360_domain::value::Thresholds;
    use c360_domain::{Identifier, IdentifierType, Millis, StoreId, Zone};
    use c360_dynamodb::store::Store;
    use c360_runtime::config::Config;
    use lambda_http::RequestExt;
    use std::collections::HashMap;

    const PROFILE: &str = "/api/v1/customer360/profile";
    const VALUE: &str = "/api/v1/customer360/value";
    const TIMELINE: &str = "/api/v1/customer360/timeline";
    const SEARCH: &str = "/api/v1/customer360/search";
    const ERASE: &str = "/api/v1/customer360/customer";
    const SEGMENTS: &str = "/api/v1/customer360/segments";
    const SEGMENT: &str = "/api/v1/customer360/segments/{segment_id}";
    const SEGMENT_ID: &str = "seg_0a1b2c3d4e5f";

    fn value_answer() -> Value {
        json!({
            "success": true,
            "data": {
                "customer_identifier": "13800138000",
                "identifier_type": "phone",
                "customer_value": {
                    "total_spent": 500.0, "total_orders": 3, "avg_order_value": 166.67,
                    "customer_lifetime_days": 100, "order_frequency_per_month": 0.9,
                    "rfm_score": 61.2, "customer_tier": "中价值"
                },
                "customer_tags": ["会员", "会员等级:金卡", "中价值", "活跃用户"],
                "statistics": {"total_orders": 4, "total_reservations": 1, "total_pos_transactions": 1, "total_activities": 1},
                "monthly_spend": (1..=12)
                    .map(|m| json!({"month": format!("2025-{m:02}"), "orders": i64::from(m == 12), "spent": if m == 12 { 500.0 } else { 0.0 }}))
                    .collect::<Vec<_>>(),
                "predictions": null,
                "predictions_unavailable_reason": "no model has been fitted for this scope yet (the calibration runs weekly)",
                "generated_at": "2026-02-20T17:00:00+08:00"
            }
        })
    }

    fn rejects(path: &str, status: u16, body: &Value, what: &str) -> String {
        match contract().validate(path, status, body) {
            Ok(()) => panic!("{what}: accepted, but must fail"),
            Err(e) => e,
        }
    }

    #[tokio::test]
    async fn the_document_documents_every_route_the_handlers_serve() {
        let app = app_at("http://127.0.0.1:9", "customer360");
        let mut served: BTreeSet<(String, String)> = Endpoint::ALL
            .iter()
            .map(|e| (e.method().to_string(), e.path()))
            .collect();
        served.extend(segment_routes(&app).await);
        let documented: BTreeSet<(String, String)> = contract().operations().into_iter().collect();
        assert_eq!(
            documented, served,
            "the operations of infra/openapi.yaml (left) and the routes the handlers serve (right)"
        );
        for (method, path) in &served {
            let statuses = contract().statuses_for(method, path);
            assert!(
                statuses.iter().any(|s| (200..300).contains(s)),
                "{method} {path}: no success documented"
            );
            for status in [400, 401, 403, 500, 503] {
                assert!(statuses.contains(&status), "{method} {path} {status}");
            }
        }
    }

    #[test]
    fn a_well_formed_answer_validates() {
        contract()
            .validate(VALUE, 200, &value_answer())
            .expect("valid");
    }

    #[test]
    fn money_sent_as_a_string_fails() {
        let mut body = value_answer();
        body["data"]["customer_value"]["total_spent"] = json!("500.00");
        let e = rejects(VALUE, 200, &body, "total_spent as a string");
        assert!(e.contains("/data/customer_value/total_spent"), "{e}");
        assert!(e.contains("number"), "{e}");
    }

    #[test]
    fn drift_in_shape_fails() {
        let mut extra = value_answer();
        extra["data"]["customer_value"]["lifetime_value"] = json!(1.0);
        rejects(VALUE, 200, &extra, "an undocumented field");

        let mut missing = value_answer();
        missing["data"]
            .as_object_mut()
            .unwrap()
            .remove("statistics");
        rejects(VALUE, 200, &missing, "a missing field");

        let mut fractional = value_answer();
        fractional["data"]["statistics"]["total_orders"] = json!(4.5);
        rejects(VALUE, 200, &fractional, "a fractional count");

        let mut months = value_answer();
        months["data"]["monthly_spend"]
            .as_array_mut()
            .unwrap()
            .pop();
        rejects(VALUE, 200, &months, "eleven months of spend");

        let mut tier = value_answer();
        tier["data"]["customer_value"]["customer_tier"] = json!("gold");
        rejects(VALUE, 200, &tier, "an unknown tier");

        let mut time = value_answer();
        time["data"]["generated_at"] = json!("2026-02-20 17:00");
        rejects(
            VALUE,
            200,
            &time,
            "a time that is not RFC 3339 with an offset",
        );

        let mut reason = value_answer();
        reason["data"]["predictions"] = json!({
            "p_alive": 0.9, "churn_probability": 0.1, "expected_orders_90d": 1.2,
            "predicted_clv_12m": null, "model_fitted_at": "2026-02-16T03:00:00+08:00"
        });
        rejects(VALUE, 200, &reason, "a reason beside predictions");
        reason["data"]
            .as_object_mut()
            .unwrap()
            .remove("predictions_unavailable_reason");
        contract()
            .validate(VALUE, 200, &reason)
            .expect("predictions without a reason");
    }

    /// `member_info.birthday`: `YYYY-MM-DD`, `--MM-DD` (no year given, or a masked role), or
    /// `null`; always present.
    #[test]
    fn a_birthday_is_a_date_a_month_and_day_or_null() {
        let profile = |birthday: Option<Value>| {
            let mut body = value_answer();
            let mut member = json!({
                "member_id": "M123456", "name": "张三", "phone": "13800138000", "email": null,
                "level": "金卡", "points": 1500, "balance": 200.0, "store_id": "store_sh_001",
                "registered_at": "2025-08-18T14:20:00+08:00"
            });
            if let Some(b) = birthday {
                member["birthday"] = b;
            }
            let data = body["data"].as_object_mut().unwrap();
            data.insert("member_info".into(), member);
            for list in ["timeline", "recent_orders", "recent_reservations"] {
                data.insert(list.into(), json!([]));
            }
            data.insert(
                "guest_insights".into(),
                json!({
                    "favorite_dishes": [], "visits": 0, "finished_reservations": 0,
                    "no_show_rate": null, "cancellation_rate": null, "party_size": null,
                    "preferred_daypart": null, "daypart_counts": {}, "preferred_order_type": null,
                    "order_type_shares": {}, "payment_method_shares": {}, "favorite_store": null
                }),
            );
            body
        };
        for ok in [json!("1990-03-01"), json!("--02-29"), json!(null)] {
            contract()
                .validate(PROFILE, 200, &profile(Some(ok.clone())))
                .unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [json!("1990-3-1"), json!("03-01"), json!(19900301)] {
            rejects(PROFILE, 200, &profile(Some(bad.clone())), &bad.to_string());
        }
        rejects(PROFILE, 200, &profile(None), "member_info without birthday");
    }

    /// A recommendations answer's list is of the kind it says: dishes for `dishes`, coupons
    /// for `coupons`, never the other (nor a mix).
    #[test]
    fn the_recommendations_list_is_of_the_kind_the_answer_says() {
        const RECOMMENDATIONS: &str = "/api/v1/customer360/recommendations";
        let dish = json!({"dish_id": "D101", "name": "小笼包", "reason": "repeat", "paired_with": null, "score": 1.5});
        let coupon = json!({
            "rule_id": "vip_perk", "title": "VIP专享: 全单九折", "kind": "percent_off", "value": null,
            "percent": 10.0, "min_spend": null, "valid_days": null, "priority": 60,
            "reason": "vip_perk: {\"field\":\"customer_tier\",\"op\":\"eq\",\"value\":\"VIP\"}"
        });
        let answer = |kind: &str, list: Vec<Value>| {
            json!({"success": true, "data": {
                "customer_identifier": "138****8000", "identifier_type": "phone", "kind": kind,
                "recommendations": list, "store_statistics_at": null,
                "generated_at": "2026-11-26T12:00:00+08:00"
            }})
        };
        for (kind, list) in [
            ("dishes", vec![dish.clone()]),
            ("coupons", vec![coupon.clone()]),
            ("dishes", vec![]),
            ("coupons", vec![]),
        ] {
            contract()
                .validate(RECOMMENDATIONS, 200, &answer(kind, list))
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
        }
        rejects(
            RECOMMENDATIONS,
            200,
            &answer("dishes", vec![coupon.clone()]),
            "coupons said to be dishes",
        );
        rejects(
            RECOMMENDATIONS,
            200,
            &answer("coupons", vec![dish.clone()]),
            "dishes said to be coupons",
        );
        rejects(
            RECOMMENDATIONS,
            200,
            &answer("dishes", vec![dish.clone(), coupon.clone()]),
            "a mix",
        );
        rejects(
            RECOMMENDATIONS,
            200,
            &answer("drinks", vec![]),
            "an unknown kind",
        );
    }

    #[test]
    fn errors_must_carry_the_code_of_their_status() {
        let error = |code: &str| json!({"success": false, "error": {"code": code, "message": "m"}});
        contract()
            .validate(PROFILE, 404, &error("CUSTOMER_NOT_FOUND"))
            .expect("404");
        rejects(
            PROFILE,
            404,
            &error("INVALID_PARAMETER"),
            "a 404 with a 400's code",
        );
        rejects(PROFILE, 400, &error("BAD_REQUEST"), "an unknown code");
        rejects(
            SEARCH,
            404,
            &error("CUSTOMER_NOT_FOUND"),
            "search never answers 404",
        );
        rejects(PROFILE, 418, &error("INTERNAL"), "an undocumented status");
        // API Gateway's own answers, in its own shape.
        contract()
            .validate(TIMELINE, 401, &json!({"message": "Unauthorized"}))
            .expect("the authorizer's 401");
        rejects(
            TIMELINE,
            400,
            &json!({"message": "Bad Request"}),
            "a gateway body for a 400",
        );
        // A path without GET is validated against its DELETE.
        assert_eq!(contract().default_method(ERASE), "DELETE");
        contract()
            .validate(ERASE, 404, &error("CUSTOMER_NOT_FOUND"))
            .expect("the erasure's 404");
        // The segments' own codes, each on its status.
        contract()
            .validate_for("GET", SEGMENT, 404, &error("SEGMENT_NOT_FOUND"))
            .expect("a segment that is not there");
        assert!(contract()
            .validate_for("GET", SEGMENT, 404, &error("CUSTOMER_NOT_FOUND"))
            .is_err());
        contract()
            .validate_for("PUT", SEGMENT, 409, &error("CONFLICT"))
            .expect("a stale version");
        contract()
            .validate_for("POST", SEGMENTS, 409, &error("CONFLICT"))
            .expect("too many segments");
        assert!(contract()
            .validate_for("DELETE", SEGMENT, 409, &error("CONFLICT"))
            .is_err());
        assert!(
            contract()
                .validate_for(
                    "GET",
                    &format!("{SEGMENTS}/members"),
                    404,
                    &error("SEGMENT_NOT_FOUND")
                )
                .is_err(),
            "an inline filter has no segment to miss"
        );
    }

    #[test]
    fn operations_are_told_apart_by_method() {
        let created = json!({"success": true, "data": segment_def().json(&Zone::default())});
        contract()
            .validate_for("POST", SEGMENTS, 201, &created)
            .expect("a created segment");
        assert!(
            contract()
                .validate_for("POST", SEGMENTS, 200, &created)
                .is_err(),
            "creation answers 201"
        );
        assert!(
            contract()
                .validate_for("GET", SEGMENTS, 201, &created)
                .is_err(),
            "the list answers 200, with a list"
        );
        assert_eq!(
            contract().statuses(SEGMENTS),
            contract().statuses_for("GET", SEGMENTS)
        );
        assert!(contract().statuses_for("POST", SEGMENTS).contains(&201));
    }

    #[test]
    fn a_request_without_an_operation_may_only_be_a_404_or_405() {
        let error = |code: &str| json!({"success": false, "error": {"code": code, "message": "m"}});
        contract()
            .validate_for("PATCH", SEGMENTS, 405, &error("METHOD_NOT_ALLOWED"))
            .expect("a method the path does not take");
        assert!(contract()
            .validate_for("PATCH", SEGMENTS, 405, &error("NOT_FOUND"))
            .is_err());
        let unknown = format!("{SEGMENT}/bogus");
        contract()
            .validate_for("GET", &unknown, 404, &error("NOT_FOUND"))
            .expect("a path the function does not serve");
        contract()
            .validate_for("GET", &unknown, 404, &json!({"message": "Not Found"}))
            .expect("a route API Gateway does not have");
        let e = contract()
            .validate_for(
                "PATCH",
                SEGMENTS,
                200,
                &json!({"success": true, "data": {}}),
            )
            .expect_err("an undocumented operation cannot succeed");
        assert!(
            e.contains("PATCH") && e.contains("not in infra/openapi.yaml"),
            "{e}"
        );
        // A documented operation's statuses are its own: no 405 falls back to the component.
        assert!(contract()
            .validate_for("GET", SEGMENTS, 405, &error("METHOD_NOT_ALLOWED"))
            .is_err());
    }

    #[test]
    fn an_export_is_csv_whose_body_is_not_validated_but_whose_errors_are() {
        let csv = Value::String("customer_identifier,identifier_type\n13800138000,phone\n".into());
        for path in [format!("{SEGMENT}/export"), format!("{SEGMENTS}/export")] {
            for method in ["GET", "POST"] {
                contract()
                    .validate_for(method, &path, 200, &csv)
                    .expect("CSV is not validated");
                assert!(contract().validate_for(method, &path, 400, &csv).is_err());
                contract()
                    .validate_for(
                        method,
                        &path,
                        403,
                        &json!({"success": false, "error": {"code": "FORBIDDEN", "message": "admins only"}}),
                    )
                    .expect("a JSON error");
            }
        }
        let media = contract()
            .document()
            .pointer("/components/responses/SegmentCsv/content")
            .and_then(Value::as_object)
            .expect("the export's content");
        assert_eq!(media.keys().collect::<Vec<_>>(), ["text/csv"]);
    }

    // ---- segment answers, as the domain builds them ---------------------------------------

    fn segment_def() -> SegmentDef {
        SegmentDef {
            id: SEGMENT_ID.into(),
            name: "高价值活跃".into(),
            description: Some("RFM 70+ and active".into()),
            filter: Filter::from_json(&json!({"and": [
                {"field": "rfm_score", "op": "gte", "value": 70},
                {"field": "tags", "op": "contains_all", "value": ["活跃用户"]},
                {"not": {"field": "days_until_birthday", "op": "missing"}},
            ]}))
            .expect("a filter"),
            version: 2,
            created_at: Millis(1_771_500_000_000),
            updated_at: Millis(1_771_578_000_000),
            created_by: Some("manager-1".into()),
            owner_store: StoreId::parse("store_sh_001").ok(),
            built_at: None,
        }
    }

    fn member_hit() -> Value {
        let zone = Zone::default();
        let thresholds = Thresholds::default();
        let e = Evaluation {
            now: Millis(1_771_578_000_000),
            zone: &zone,
            thresholds: &thresholds,
            model: None,
            monthly_discount_rate: 0.01,
        };
        SegmentRow {
            cluster: vec![
                Identifier::parse(IdentifierType::MemberId, "M001").expect("member id"),
                Identifier::parse(IdentifierType::Phone, "13800138000").expect("phone"),
            ],
            ..SegmentRow::default()
        }
        .hit(&e)
    }

    fn ok(data: Value) -> Value {
        json!({"success": true, "data": data})
    }

    #[test]
    fn segment_answers_built_by_the_domain_validate() {
        let zone = Zone::default();
        let now = zone.format(Millis(1_771_578_000_000));
        let mut def = segment_def();
        for built_at in [None, Some(Millis(1_771_580_000_000))] {
            def.built_at = built_at;
            let one = ok(def.json(&zone));
            for (method, path, status) in [
                ("POST", SEGMENTS, 201),
                ("GET", SEGMENT, 200),
                ("PUT", SEGMENT, 200),
            ] {
                contract()
                    .validate_for(method, path, status, &one)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
        def.description = None;
        def.created_by = None;
        let list = ok(json!({"segments": [def.json(&zone)], "total": 1, "computed_at": now}));
        contract()
            .validate_for("GET", SEGMENTS, 200, &list)
            .unwrap_or_else(|e| panic!("{e}"));
        contract()
            .validate_for(
                "DELETE",
                SEGMENT,
                200,
                &ok(json!({"segment_id": SEGMENT_ID, "deleted": true})),
            )
            .unwrap_or_else(|e| panic!("{e}"));

        let head = |saved: bool| {
            json!({
                "segment_id": if saved { json!(SEGMENT_ID) } else { Value::Null },
                "store_id": if saved { Value::Null } else { json!("s1") },
                "filter": def.filter.to_json(),
                "evaluated_from": if saved { "members" } else { "live" },
                "computed_at": now,
            })
        };
        let with = |mut head: Value, extra: Value| {
            for (k, v) in extra.as_object().expect("an object") {
                head[k] = v.clone();
            }
            ok(head)
        };
        for (saved, base) in [(true, SEGMENT.to_string()), (false, SEGMENTS.to_string())] {
            let members = with(
                head(saved),
                json!({"order": "customer_identifier_key", "count": 1, "members": [member_hit()], "next_cursor": null}),
            );
            let count = with(head(saved), json!({"count": 12}));
            let check = with(
                head(saved),
                json!({"results": [{"customer_identifier": "138****8000", "identifier_type": "phone", "in_segment": true}]}),
            );
            for method in ["GET", "POST"] {
                for (step, body) in [("members", &members), ("count", &count), ("check", &check)] {
                    contract()
                        .validate_for(method, &format!("{base}/{step}"), 200, body)
                        .unwrap_or_else(|e| panic!("{e}"));
                }
            }
        }
    }

    #[test]
    fn a_member_is_a_search_hit_with_rfm_score_instead_of_matched_by() {
        let path = format!("{SEGMENT}/members");
        let page = |hit: Value| {
            ok(json!({
                "segment_id": SEGMENT_ID, "store_id": null, "filter": {"and": []},
                "evaluated_from": "members", "computed_at": "2026-02-20T17:00:00+08:00",
                "order": "customer_identifier_key", "count": 1, "members": [hit], "next_cursor": null,
            }))
        };
        contract()
            .validate_for("GET", &path, 200, &page(member_hit()))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut with_matched_by = member_hit();
        with_matched_by["matched_by"] = json!("phone");
        assert!(contract()
            .validate_for("GET", &path, 200, &page(with_matched_by))
            .is_err());
        let mut without_score = member_hit();
        without_score
            .as_object_mut()
            .expect("a hit")
            .remove("rfm_score");
        assert!(contract()
            .validate_for("GET", &path, 200, &page(without_score))
            .is_err());
        let mut score_as_text = member_hit();
        score_as_text["rfm_score"] = json!("61.2");
        assert!(contract()
            .validate_for("GET", &path, 200, &page(score_as_text))
            .is_err());
    }

    // ---- real answers of the handlers for the errors the end-to-end tests do not reach ----

    async fn answer(app: &App, endpoint: Endpoint, query: &[(&str, &str)]) -> (u16, Value) {
        let mut params: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in query {
            params.entry(k.to_string()).or_default().push(v.to_string());
        }
        let mut req = lambda_http::Request::default().with_query_string_parameters(params);
        *req.method_mut() = endpoint.method().parse().expect("method");
        req.headers_mut().insert(
            "authorization",
            format!(
                "Bearer {}",
                crate::token(c360_domain::access::Role::SuperAdmin, None)
            )
            .parse()
            .expect("header"),
        );
        let resp = handle(app, endpoint, req).await;
        let body = match resp.body() {
            lambda_http::Body::Text(t) => serde_json::from_str(t).expect("a JSON body"),
            other => panic!("expected a text body, got {other:?}"),
        };
        (resp.status().as_u16(), body)
    }

    fn app_at(endpoint_url: &str, table: &str) -> App {
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .endpoint_url(endpoint_url)
            .build();
        let store = Store::new(aws_sdk_dynamodb::Client::from_conf(conf), table);
        App::new(
            Reads::new(
                store,
                Config {
                    table: table.into(),
                    ..Config::from_env().expect("default config")
                },
            ),
            crate::test_access(c360_api::audit::AuditLog::Memory(Default::default())),
        )
    }

    /// A request to the handler the segments Lambda runs: its status and JSON body.
    async fn segment_answer(
        app: &App,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut params: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in query {
            params.entry(k.to_string()).or_default().push(v.to_string());
        }
        let body = match body {
            Some(b) => lambda_http::Body::Text(b.to_string()),
            None => lambda_http::Body::Empty,
        };
        let mut req = lambda_http::Request::new(body).with_query_string_parameters(params);
        *req.method_mut() = method.parse().expect("method");
        *req.uri_mut() = path.parse().expect("path");
        if let Some(t) = token {
            req.headers_mut().insert(
                "authorization",
                format!("Bearer {t}").parse().expect("header"),
            );
        }
        let resp = c360_api::segments::handle(app, req).await;
        let body = match resp.body() {
            lambda_http::Body::Text(t) => serde_json::from_str(t).expect("a JSON body"),
            other => panic!("expected a text body, got {other:?}"),
        };
        (resp.status().as_u16(), body)
    }

    /// The (method, path template) pairs the segments handler serves, probed without
    /// credentials on every method of every path it might serve: a route it serves asks for
    /// them (401), one it does not is 404 or 405 (before authentication). Every answer is
    /// checked against the document on the way.
    async fn segment_routes(app: &App) -> BTreeSet<(String, String)> {
        let mut templates = vec![
            SEGMENTS.to_string(),
            SEGMENT.to_string(),
            format!("{SEGMENT}/bogus"),
            format!("{SEGMENT}/members/more"),
        ];
        for step in ["members", "count", "check", "export"] {
            templates.push(format!("{SEGMENTS}/{step}"));
            templates.push(format!("{SEGMENT}/{step}"));
        }
        let mut served = BTreeSet::new();
        for template in &templates {
            let path = template.replace("{segment_id}", SEGMENT_ID);
            for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                let (status, body) = segment_answer(app, method, &path, &[], None, None).await;
                assert_valid_response_for(method, template, status, &body);
                match status {
                    401 => {
                        served.insert((method.to_string(), template.clone()));
                    }
                    404 | 405 => {}
                    other => panic!("{method} {path} without credentials: {other} {body}"),
                }
            }
        }
        served
    }

    #[tokio::test]
    async fn a_store_that_cannot_be_reached_is_a_documented_503() {
        // Nothing listens on port 9 (discard): the connection is refused at once.
        let app = app_at("http://127.0.0.1:9", "customer360");
        for endpoint in Endpoint::ALL {
            let query: &[(&str, &str)] = match endpoint {
                Endpoint::Search => &[("query", "张")],
                _ => &[("customer_identifier", "13800138000")],
            };
            let (status, body) = answer(&app, endpoint, query).await;
            assert_eq!(status, 503, "{endpoint:?}: {body}");
            assert_valid_response(&endpoint.path(), status, &body);
        }
        // Every segments operation, with what it needs to reach the store.
        let token = crate::token(c360_domain::access::Role::SuperAdmin, None);
        let filter = json!({"field": "rfm_score", "op": "gte", "value": 70});
        let customers = json!([{"customer_identifier": "13800138000"}]);
        let mut asked = 0;
        for (method, template) in contract().operations() {
            if !template.starts_with(SEGMENTS) {
                continue;
            }
            asked += 1;
            let path = template.replace("{segment_id}", SEGMENT_ID);
            let inline = !template.contains("{segment_id}");
            let step = template.rsplit('/').next().unwrap_or_default();
            let (query, body): (Vec<(&str, &str)>, Option<Value>) = match (method.as_str(), step) {
                ("GET", "segments") => (vec![], None),
                ("POST", "segments") => (vec![], Some(json!({"name": "n", "filter": filter}))),
                ("GET", "check") => (vec![("customer_identifier", "13800138000")], None),
                ("POST", "check") if inline => (
                    vec![],
                    Some(json!({"filter": filter, "customers": customers})),
                ),
                ("POST", "check") => (vec![], Some(json!({"customers": customers}))),
                ("PUT", _) => (vec![], Some(json!({"name": "m"}))),
                ("POST", _) if inline => (vec![], Some(json!({"filter": filter}))),
                ("GET", _) if inline => (vec![("rfm_score_gte", "70")], None),
                _ => (vec![], None),
            };
            let (status, answer) =
                segment_answer(&app, &method, &path, &query, body, Some(&token)).await;
            assert_eq!(status, 503, "{method} {path}: {answer}");
            assert_valid_response_for(&method, &template, status, &answer);
        }
        assert_eq!(asked, 21, "the segments operations of infra/openapi.yaml");
    }

    #[tokio::test]
    async fn a_refused_request_is_a_documented_500_that_leaks_nothing() {
        // A table that does not exist: DynamoDB refuses the request (a bug or a broken
        // deployment, not the caller's mistake).
        let Ok(url) = std::env::var("C360_TEST_DYNAMODB_ENDPOINT") else {
            panic!("C360_TEST_DYNAMODB_ENDPOINT is not set: run the tests with scripts/test, which starts the DynamoDB emulator")
        };
        let app = app_at(&url, "no_such_table_c360");
        let (status, body) = answer(
            &app,
            Endpoint::Value,
            &[("customer_identifier", "13800138000")],
        )
        .await;
        assert_eq!(status, 500, "{body}");
        assert_valid_response(VALUE, status, &body);
        assert!(!body.to_string().contains("no_such_table"), "{body}");
    }
}
