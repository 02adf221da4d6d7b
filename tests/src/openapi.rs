//! The API contract, checked against real answers: `infra/openapi.yaml` (OpenAPI 3.1) is
//! compiled here into one JSON Schema 2020-12 validator per documented (path, status), and
//! [`assert_valid_response`] checks the status and body of an answer against it.
//! `TestEnv::get` calls it for every response the end-to-end tests receive, so the handlers
//! and the document cannot drift apart: an undocumented status, a missing or extra field, a
//! number sent as a string or an unknown error code fails the test that received it.
//!
//! OpenAPI 3.1 Schema Objects are JSON Schema 2020-12, so a response's schema is validated
//! as it stands, inside a document that also carries the OpenAPI `components`: its
//! `#/components/schemas/...` references resolve against that document, with no rewriting.
//! Formats are asserted (`date-time`), not merely annotated.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The document, compiled into the binary so a test never depends on the working directory.
pub const DOCUMENT: &str = include_str!("../../infra/openapi.yaml");

/// The media type every answer has (`spec/api.md`).
const MEDIA_TYPE: &str = "application/json";

pub struct Contract {
    document: Value,
    /// (path, status) -> the validator of that response's body.
    responses: BTreeMap<(String, u16), jsonschema::Validator>,
}

fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
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
            // One operation per path: GET for the reads, DELETE for erasure.
            let operation = item.get("get").or_else(|| item.get("delete"));
            let answers = operation
                .and_then(|op| op["responses"].as_object())
                .ok_or_else(|| format!("{path} has no GET or DELETE responses"))?;
            for (status, response) in answers {
                let code: u16 = status
                    .parse()
                    .map_err(|_| format!("GET {path}: response `{status}` is not a status code"))?;
                let response = resolve(&document, response)?;
                let schema = response
                    .pointer(&format!("/content/{}/schema", pointer_escape(MEDIA_TYPE)))
                    .ok_or_else(|| format!("GET {path} {status}: no `{MEDIA_TYPE}` schema"))?;
                // The response's schema, with the components beside it so that its
                // `#/components/...` references resolve in this document.
                let root = json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "components": components,
                    "allOf": [schema],
                });
                let validator = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .should_validate_formats(true)
                    .build(&root)
                    .map_err(|e| {
                        format!("GET {path} {status}: the schema does not compile: {e}")
                    })?;
                responses.insert((path.clone(), code), validator);
            }
        }
        Ok(Contract {
            document,
            responses,
        })
    }

    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The documented paths.
    pub fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.responses.keys().map(|(p, _)| p.clone()).collect();
        paths.dedup();
        paths
    }

    /// The statuses documented for a path.
    pub fn statuses(&self, path: &str) -> Vec<u16> {
        self.responses
            .keys()
            .filter(|(p, _)| p == path)
            .map(|(_, s)| *s)
            .collect()
    }

    /// Checks one answer of `GET path`: its status is documented and its body validates
    /// against that status's schema. The error lists every violation with its location.
    pub fn validate(&self, path: &str, status: u16, body: &Value) -> Result<(), String> {
        let Some(validator) = self.responses.get(&(path.to_string(), status)) else {
            return Err(if self.statuses(path).is_empty() {
                format!("GET {path} is not in infra/openapi.yaml")
            } else {
                format!(
                    "GET {path} answered {status}, which infra/openapi.yaml does not document (documented: {:?})",
                    self.statuses(path)
                )
            });
        };
        if validator.is_valid(body) {
            return Ok(());
        }
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
        Err(format!(
            "GET {path} {status}: the body does not match infra/openapi.yaml:\n{}",
            problems.join("\n")
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

/// [`Contract::validate`] against `infra/openapi.yaml`, panicking with every violation and
/// the body when the answer does not match.
pub fn assert_valid_response(path: &str, status: u16, body: &Value) {
    if let Err(e) = contract().validate(path, status, body) {
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
    use c360_dynamodb::store::Store;
    use c360_runtime::config::Config;
    use lambda_http::RequestExt;
    use std::collections::HashMap;

    const PROFILE: &str = "/api/v1/customer360/profile";
    const VALUE: &str = "/api/v1/customer360/value";
    const TIMELINE: &str = "/api/v1/customer360/timeline";
    const SEARCH: &str = "/api/v1/customer360/search";

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

    #[test]
    fn the_document_documents_every_endpoint_the_handlers_serve() {
        let mut served: Vec<String> = Endpoint::ALL.iter().map(|e| e.path()).collect();
        served.sort();
        assert_eq!(contract().paths(), served);
        for path in &served {
            for status in [200, 400, 401, 403, 500, 503] {
                assert!(
                    contract().statuses(path).contains(&status),
                    "{path} {status}"
                );
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
