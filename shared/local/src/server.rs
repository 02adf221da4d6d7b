//! A local HTTP server that mounts the read functions' own handler under the seed's paths:
//! each request becomes the `lambda_http::Request` the Lambda would get, so what answers
//! here is what answers behind API Gateway.

use axum::extract::{RawQuery, State};
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use c360_api::http::{error_response, handle, ApiError, App, Endpoint};
use lambda_http::{Body, RequestExt};
use std::collections::HashMap;
use std::sync::Arc;

fn to_axum(resp: lambda_http::Response<Body>) -> Response {
    let (parts, body) = resp.into_parts();
    let bytes: Vec<u8> = match body {
        Body::Text(t) => t.into_bytes(),
        Body::Binary(b) => b,
        _ => Vec::new(),
    };
    (parts.status, parts.headers, bytes).into_response()
}

async fn route(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Response {
    let segments = uri.path().starts_with(c360_api::segments::PATH);
    let endpoint = Endpoint::from_path(uri.path());
    if endpoint.is_none() && !segments {
        // No handler sees this request, so this server logs it: a mistyped path from an app is
        // then one grep away (in AWS, API Gateway's access log has it).
        // Decoded, so that the redacting writer sees a phone or email however it was encoded.
        let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy();
        tracing::info!(method = %method, path = %path, status = 404, "no such path");
        let paths: Vec<String> = Endpoint::ALL.iter().map(|e| e.path()).collect();
        return to_axum(error_response(&ApiError::NoRoute(format!(
            "No such path `{}`; try one of {}, {}.",
            uri.path(),
            paths.join(", "),
            c360_api::segments::PATH
        ))));
    }
    // A method the endpoint does not take is the handler's to refuse (405
    // METHOD_NOT_ALLOWED), as it is in the function.
    let pairs: Vec<(String, String)> =
        match serde_urlencoded::from_str(query.as_deref().unwrap_or("")) {
            Ok(p) => p,
            Err(_) => {
                return to_axum(error_response(&ApiError::InvalidParameter(
                    "The query string is not valid URL encoding.".into(),
                )))
            }
        };
    let mut params: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in pairs {
        params.entry(k).or_default().push(v);
    }
    let body = if body.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    let mut req = lambda_http::Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    let req = req.with_query_string_parameters(params);
    match endpoint {
        Some(endpoint) => to_axum(handle(&app, endpoint, req).await),
        None => to_axum(c360_api::segments::handle(&app, req).await),
    }
}

pub fn router(app: App) -> axum::Router {
    axum::Router::new()
        .fallback(route)
        .with_state(Arc::new(app))
}

/// The files of the console site, as `scripts/console-site` assembles it for AWS: these and
/// `vendor/`. The rest of `console/` (its tests, `package.json`, `node_modules/`) is not the
/// site and is not served.
const CONSOLE_FILES: [&str; 3] = ["index.html", "app.js", "app.css"];

/// The console (`console/`, issue 15) on the API's origin: its files under `/console/`;
/// `/console/config.json`, how the console signs in: the directory's own file when it has one
/// (what `scripts/console-site` writes for AWS, naming an OIDC provider), else
/// `{"oidc": null}`; and, when `identities` is given, `/console/dev-identities.json`, the local
/// identities a person can sign in as (this server only: in AWS there is no such file). `/`
/// leads to the console. Any other path under `/console/` is a 404 with the API's JSON error.
pub fn with_console(
    api: axum::Router,
    dir: &std::path::Path,
    identities: Option<serde_json::Value>,
) -> axum::Router {
    let json = |value: serde_json::Value| {
        let body = Arc::new(value.to_string());
        axum::routing::get(move || {
            let body = body.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body.as_str().to_owned(),
                )
            }
        })
    };
    let mut router = axum::Router::new().route(
        "/",
        axum::routing::get(|| async { axum::response::Redirect::to("/console/") }),
    );
    let file = |name: &str| tower_http::services::ServeFile::new(dir.join(name));
    router = router.route_service("/console/", file("index.html"));
    for name in CONSOLE_FILES {
        router = router.route_service(&format!("/console/{name}"), file(name));
    }
    router = if dir.join("config.json").is_file() {
        router.route_service("/console/config.json", file("config.json"))
    } else {
        router.route(
            "/console/config.json",
            json(serde_json::json!({ "oidc": null })),
        )
    };
    if let Some(identities) = identities {
        router = router.route("/console/dev-identities.json", json(identities));
    }
    let not_found = || async {
        (
            axum::http::StatusCode::NOT_FOUND,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            serde_json::json!({
                "success": false,
                "error": {"code": "NOT_FOUND", "message": "No console file at this path; the console is at /console/."}
            })
            .to_string(),
        )
    };
    router
        .nest_service(
            "/console/vendor",
            tower_http::services::ServeDir::new(dir.join("vendor"))
                .not_found_service(axum::routing::get(not_found)),
        )
        .route("/console/{*rest}", axum::routing::get(not_found))
        .merge(api)
        // `/console` without its slash would serve index.html, whose relative links then miss
        // the directory: send the browser to `/console/`, as CloudFront's function does.
        .layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| async move {
                if req.uri().path() == "/console" {
                    return axum::response::Redirect::permanent("/console/").into_response();
                }
                next.run(req).await
            },
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use c360_api::audit::{AuditLog, SubjectHasher};
    use c360_api::auth::Authenticator;
    use c360_api::http::Access;
    use c360_api::reads::Reads;
    use c360_domain::access::MaskingConfig;
    use c360_dynamodb::store::Store;
    use c360_runtime::config::Config;
    use serde_json::Value;

    /// An app whose store points nowhere (port 9): what is asked here is answered before
    /// any read.
    fn offline_app() -> Arc<App> {
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(conf);
        let reads = Reads::new(
            Store::new(client, "unused"),
            Config::from_env().expect("default config"),
        );
        Arc::new(App::new(
            reads,
            Access {
                auth: Authenticator::api_gateway(),
                masking: MaskingConfig::default(),
                audit: AuditLog::Memory(Arc::default()),
                hasher: SubjectHasher::new(b"unit-test-key-0123456789"),
            },
        ))
    }

    async fn ask(method: Method, path_and_query: &str) -> (u16, Value) {
        let uri: Uri = path_and_query.parse().expect("a URI");
        let query = uri.query().map(str::to_string);
        let resp = route(
            State(offline_app()),
            method,
            uri,
            axum::http::HeaderMap::new(),
            RawQuery(query),
            axum::body::Bytes::new(),
        )
        .await;
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("the body");
        (status, serde_json::from_slice(&bytes).expect("a JSON body"))
    }

    #[tokio::test]
    async fn a_wrong_method_is_405_method_not_allowed_and_an_unknown_path_404_not_found() {
        let (status, body) = ask(
            Method::POST,
            "/api/v1/customer360/recommendations?customer_identifier=13800138000",
        )
        .await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (405, &Value::from("METHOD_NOT_ALLOWED")),
            "{body}"
        );
        assert_eq!(
            body["error"]["message"],
            "/api/v1/customer360/recommendations accepts GET, not POST."
        );
        let (status, body) = ask(Method::GET, "/api/v1/customer360/customer").await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (405, &Value::from("METHOD_NOT_ALLOWED")),
            "{body}"
        );
        let (status, body) = ask(Method::GET, "/api/v1/customer360/nope").await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (404, &Value::from("NOT_FOUND")),
            "{body}"
        );
    }

    /// Field report: a request to a path that is no endpoint left no log line at all, so an
    /// app calling a mistyped path was invisible to whoever read the logs.
    #[tokio::test]
    async fn a_request_to_no_endpoint_is_logged() {
        let logs = c360_runtime::telemetry::captured();
        let (status, _) = ask(Method::GET, "/api/v1/customer360/profil?x=1").await;
        assert_eq!(status, 404);
        // A phone in the path, percent-encoded, is masked like any other (second report).
        let (status, _) = ask(
            Method::GET,
            "/api/v1/customer360/nope/%31%33%38%30%30%31%33%38%30%30%30",
        )
        .await;
        assert_eq!(status, 404);
        let text = String::from_utf8_lossy(&logs.lock().expect("logs")).to_string();
        assert!(
            text.lines()
                .any(|l| l.contains("no such path") && l.contains("/api/v1/customer360/profil")),
            "{text}"
        );
        assert!(text.contains("/nope/138****8000"), "{text}");
        assert!(!text.contains("%31%33%38"), "{text}");
    }

    async fn get(router: &axum::Router, path: &str) -> (u16, String) {
        use tower::ServiceExt;
        let req = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .expect("a request");
        let resp = router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("the body");
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn the_console_gets_its_sign_in_configuration_and_dev_identities_only_when_given() {
        // A console site with its own config.json (scripts/console-site's, naming a provider).
        let site = std::env::temp_dir().join(format!("c360-console-site-{}", std::process::id()));
        std::fs::create_dir_all(&site).expect("a temp dir");
        let oidc = r#"{"oidc":{"authority":"https://idp.example","client_id":"c"}}"#;
        std::fs::write(site.join("config.json"), oidc).expect("config.json");
        let with_oidc = with_console(axum::Router::new(), &site, None);
        let (status, body) = get(&with_oidc, "/console/config.json").await;
        assert_eq!((status, body.as_str()), (200, oidc));
        // A server verifying the provider's tokens offers no local ones: they would only 401.
        assert_eq!(get(&with_oidc, "/console/dev-identities.json").await.0, 404);
        std::fs::remove_dir_all(&site).ok();

        // The checkout's console/ has no config.json: no provider, the dev identities.
        let ids = serde_json::json!({"identities": [{"label": "staff"}]});
        let local = with_console(
            axum::Router::new(),
            &std::env::temp_dir(),
            Some(ids.clone()),
        );
        let (status, body) = get(&local, "/console/dev-identities.json").await;
        assert_eq!(status, 200);
        assert_eq!(serde_json::from_str::<Value>(&body).expect("JSON"), ids);
        let (status, body) = get(&local, "/console/config.json").await;
        assert_eq!((status, body.as_str()), (200, r#"{"oidc":null}"#));
        // Without its slash the page's relative links would miss the directory.
        assert_eq!(get(&local, "/console").await.0, 308);
    }

    /// Field report: the dev server served everything under `console/`, `node_modules/` and
    /// `package.json` included, and an unknown file was a 404 with an empty body.
    #[tokio::test]
    async fn only_the_console_site_is_served_and_anything_else_is_a_json_404() {
        // A console directory as a checkout holds it after `npm ci` (vendor/ is copied from
        // node_modules, so a fresh clone has none yet): the site's files beside the rest.
        let dir = std::env::temp_dir().join(format!("c360-console-files-{}", std::process::id()));
        for (file, text) in [
            ("index.html", "<script type=module src=app.js></script>"),
            ("app.js", "// app"),
            ("app.css", "body {}"),
            ("vendor/chart.umd.js", "// chart"),
            ("package.json", "{}"),
            ("node_modules/.package-lock.json", "{}"),
            ("tests/console.test.mjs", "// test"),
        ] {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("a temp dir");
            std::fs::write(&path, text).expect("a file");
        }
        let router = with_console(axum::Router::new(), &dir, None);
        for path in [
            "/console/",
            "/console/app.js",
            "/console/app.css",
            "/console/vendor/chart.umd.js",
        ] {
            let (status, body) = get(&router, path).await;
            assert_eq!(status, 200, "{path}");
            assert!(!body.is_empty(), "{path}");
        }
        let (_, index) = get(&router, "/console/").await;
        assert!(index.contains("app.js"), "the page itself: {index}");
        for path in [
            "/console/package.json",
            "/console/node_modules/.package-lock.json",
            "/console/tests/console.test.mjs",
            "/console/nope.js",
            "/console/vendor/nope.js",
        ] {
            let (status, body) = get(&router, path).await;
            assert_eq!(status, 404, "{path}");
            let body: Value = serde_json::from_str(&body).expect("a JSON error");
            assert_eq!(body["error"]["code"], "NOT_FOUND", "{path}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
