//! Segment helpers of the harness: ingest that keeps memberships current, the segments
//! routes as the Lambda answers them, and the rescoring at a chosen time.

use crate::{openapi, TestEnv};
use c360_api::http::App;
use c360_domain::Millis;
use c360_runtime::segments::{RescoreReport, Segments};
use lambda_http::RequestExt;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// An answer of a segments route: status and JSON body, or status and CSV text.
#[derive(Debug)]
pub enum SegmentAnswer {
    Json(u16, Value),
    Csv(u16, String),
}

impl SegmentAnswer {
    pub fn status(&self) -> u16 {
        match self {
            SegmentAnswer::Json(s, _) | SegmentAnswer::Csv(s, _) => *s,
        }
    }
    /// The JSON body, failing the test on a CSV answer.
    pub fn json(self) -> Value {
        match self {
            SegmentAnswer::Json(_, v) => v,
            SegmentAnswer::Csv(_, t) => panic!("expected JSON, got CSV: {t}"),
        }
    }
    pub fn csv(self) -> String {
        match self {
            SegmentAnswer::Csv(_, t) => t,
            SegmentAnswer::Json(_, v) => panic!("expected CSV, got {v}"),
        }
    }
}

impl TestEnv {
    /// The segment maintenance of this environment, re-reading definitions on every use.
    pub fn segments(&self) -> Segments {
        Segments::new(self.store.clone(), self.config.clone())
            .with_defs_ttl(Duration::ZERO)
            .with_customer_refs(Some(self.app.access.hasher.shared_customer_refs()))
    }

    /// The same environment whose ingest (direct and through the poller) keeps segment rows,
    /// their tokens and saved segments' memberships current, as the ingest functions do: what search reads.
    /// Call before the first [`TestEnv::sync`].
    pub fn with_segments(mut self) -> TestEnv {
        let segments = self.segments();
        self.app.segments = segments.clone();
        self.projecting.segments = Some(segments);
        self.reproject()
    }

    /// A rescoring run at `now` (its own run id).
    pub async fn rescore_at(&self, run: &str, now: Millis) -> RescoreReport {
        self.segments()
            .rescore(run, 2, now)
            .await
            .expect("rescoring")
    }

    /// A request to `/api/v1/customer360/segments{path}` with `token`, through the handler the
    /// segments Lambda runs; JSON answers are checked against `infra/openapi.yaml`.
    pub async fn segments_request(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> SegmentAnswer {
        self.segments_request_with(&self.app, token, method, path, query, body)
            .await
    }

    /// [`TestEnv::segments_request`] against another app (another masking or audit log).
    pub async fn segments_request_with(
        &self,
        app: &App,
        token: Option<&str>,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> SegmentAnswer {
        let mut params: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in query {
            params.entry(k.to_string()).or_default().push(v.to_string());
        }
        let body = match body {
            Some(b) => lambda_http::Body::Text(b.to_string()),
            None => lambda_http::Body::Empty,
        };
        let full = format!("{}{path}", c360_api::segments::PATH);
        let mut req = lambda_http::Request::new(body).with_query_string_parameters(params);
        *req.method_mut() = method.parse().expect("an HTTP method");
        *req.uri_mut() = full.parse().expect("a path");
        if let Some(t) = token {
            req.headers_mut().insert(
                "authorization",
                format!("Bearer {t}").parse().expect("a header value"),
            );
        }
        let resp = c360_api::segments::handle(app, req).await;
        let status = resp.status().as_u16();
        let kind = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = match resp.body() {
            lambda_http::Body::Text(t) => t.clone(),
            other => panic!("expected a text body, got {other:?}"),
        };
        if kind.starts_with("text/csv") {
            return SegmentAnswer::Csv(status, text);
        }
        assert_eq!(kind, "application/json; charset=utf-8");
        let body: Value = serde_json::from_str(&text).expect("JSON body");
        openapi::assert_valid_response_for(method, &openapi_path(path), status, &body);
        SegmentAnswer::Json(status, body)
    }

    /// `data` of a successful (2xx) JSON answer as a `super_admin`.
    pub async fn segments_ok(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Value {
        let token = self.super_admin.clone();
        let answer = self
            .segments_request(Some(&token), method, path, query, body)
            .await;
        let status = answer.status();
        let body = answer.json();
        assert!(
            (200..300).contains(&status),
            "{method} {path} {query:?}: {status} {body}"
        );
        body["data"].clone()
    }
}

/// The OpenAPI path template of a segments request path (`/seg_x/members` →
/// `/api/v1/customer360/segments/{segment_id}/members`).
fn openapi_path(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let templated: Vec<&str> = parts
        .iter()
        .map(|p| {
            if p.starts_with("seg_") {
                "{segment_id}"
            } else {
                p
            }
        })
        .collect();
    let mut out = c360_api::segments::PATH.to_string();
    for p in templated {
        out.push('/');
        out.push_str(p);
    }
    out
}
