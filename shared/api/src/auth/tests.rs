use super::*;
use serde_json::json;

const SECRET: &[u8] = b"a-local-secret-of-at-least-32-bytes!";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn bearer(token: &str) -> Request {
    let mut req = Request::default();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    req
}

fn rs256(claims: serde_json::Value, kid: Option<&str>) -> String {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(include_bytes!(
        "../../testdata/rs256-test-key.pem"
    ))
    .expect("test key");
    let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, &claims, &key).expect("sign")
}

#[test]
fn hs256_tokens_carry_the_caller() {
    let auth = Authenticator::hs256(SECRET, None, None);
    let token = sign_hs256(SECRET, "u1", Role::Staff, Some("S1"), now() + 600).expect("sign");
    let caller = auth.authenticate(&bearer(&token)).expect("valid");
    assert_eq!(caller.sub, "u1");
    assert_eq!(caller.role, Role::Staff);
    assert_eq!(caller.store.as_ref().map(|s| s.as_str()), Some("S1"));
}

#[test]
fn missing_malformed_expired_and_forged_tokens_are_rejected() {
    let auth = Authenticator::hs256(SECRET, None, None);
    assert!(matches!(
        auth.authenticate(&Request::default()),
        Err(AuthError::Unauthenticated(_))
    ));
    assert!(matches!(
        auth.authenticate(&bearer("not-a-jwt")),
        Err(AuthError::Unauthenticated(_))
    ));
    let expired = sign_hs256(SECRET, "u1", Role::Staff, Some("S1"), now() - 3600).expect("sign");
    assert_eq!(
        auth.authenticate(&bearer(&expired)),
        Err(AuthError::Unauthenticated("The token has expired."))
    );
    let forged = sign_hs256(
        b"another-secret-another-secret-xx!",
        "u1",
        Role::SuperAdmin,
        None,
        now() + 600,
    )
    .expect("sign");
    assert_eq!(
        auth.authenticate(&bearer(&forged)),
        Err(AuthError::Unauthenticated(
            "The token's signature does not verify."
        ))
    );
    // An RS256 token is not accepted where HS256 is configured, and vice versa.
    let rs = rs256(
        json!({"sub": "u1", "role": "super_admin", "exp": now() + 600}),
        None,
    );
    assert!(auth.authenticate(&bearer(&rs)).is_err());
}

/// Issue 11, item 10: a token that is not valid yet (`nbf` an hour ahead), or issued in the
/// future (`iat`), is 401 in every mode; within the 30 s leeway it passes, as `exp` does.
#[test]
fn tokens_not_valid_yet_are_rejected_in_every_mode() {
    let hs = Authenticator::hs256(SECRET, None, None);
    let hs_token = |extra: serde_json::Value| {
        let mut claims =
            json!({"sub": "u1", "role": "staff", "store_id": "S1", "exp": now() + 7200});
        for (k, v) in extra.as_object().into_iter().flatten() {
            claims[k] = v.clone();
        }
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET),
        )
        .expect("sign")
    };
    let not_yet = Err(AuthError::Unauthenticated("The token is not valid yet."));
    let future_iat = Err(AuthError::Unauthenticated(
        "The token claims to be issued in the future.",
    ));
    let ok = |r: Result<Caller, AuthError>| r.map(|c| c.sub);
    assert_eq!(
        ok(hs.authenticate(&bearer(&hs_token(json!({"nbf": now() + 3600}))))),
        not_yet
    );
    assert_eq!(
        ok(hs.authenticate(&bearer(&hs_token(json!({"iat": now() + 86400}))))),
        future_iat
    );
    assert_eq!(
        ok(hs.authenticate(&bearer(&hs_token(
            json!({"nbf": now() + 10, "iat": now() + 10})
        )))),
        Ok("u1".to_string())
    );
    assert_eq!(
        ok(hs.authenticate(&bearer(&hs_token(
            json!({"nbf": now() - 60, "iat": now() - 60})
        )))),
        Ok("u1".to_string())
    );

    let rs = Authenticator::rs256_jwks(include_str!("../../testdata/jwks.json"), None, None)
        .expect("jwks");
    let claims = json!({"sub": "u9", "role": "staff", "store_id": "S2", "exp": now() + 7200, "nbf": now() + 3600});
    assert_eq!(
        ok(rs.authenticate(&bearer(&rs256(claims, Some("c360-test-1"))))),
        not_yet
    );
    let claims = json!({"sub": "u9", "role": "staff", "store_id": "S2", "exp": now() + 7200, "iat": now() + 3600});
    assert_eq!(
        ok(rs.authenticate(&bearer(&rs256(claims, Some("c360-test-1"))))),
        future_iat
    );

    // API Gateway verifies times too; the function does not accept what it would refuse.
    let gateway = Authenticator::api_gateway();
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../../../../events/apigw/profile.json")).expect("event");
    let claims = &mut event["requestContext"]["authorizer"]["jwt"]["claims"];
    claims["nbf"] = json!((now() + 3600).to_string());
    let req: Request = lambda_http::request::from_str(&event.to_string()).expect("event");
    assert_eq!(ok(gateway.authenticate(&req)), not_yet);
    event["requestContext"]["authorizer"]["jwt"]["claims"]["nbf"] = json!((now() - 60).to_string());
    event["requestContext"]["authorizer"]["jwt"]["claims"]["iat"] =
        json!((now() + 3600).to_string());
    let req: Request = lambda_http::request::from_str(&event.to_string()).expect("event");
    assert_eq!(ok(gateway.authenticate(&req)), future_iat);
}

#[test]
fn unknown_roles_are_forbidden() {
    let auth = Authenticator::hs256(SECRET, None, None);
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &json!({"sub": "u1", "role": "cashier", "exp": now() + 600}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .expect("sign");
    assert!(matches!(
        auth.authenticate(&bearer(&token)),
        Err(AuthError::Forbidden(_))
    ));
}

/// Field report: a `role` that is an array, or an `exp` that is a string, was "lacks a required
/// claim" though the claim was there; a claim really missing still says so.
#[test]
fn a_claim_of_the_wrong_type_is_not_called_missing() {
    let auth = Authenticator::hs256(SECRET, None, None);
    let sign = |claims: serde_json::Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET),
        )
        .expect("sign")
    };
    let wrong_type = AuthError::Unauthenticated(
        "The token's claims do not read: sub, role and store_id must be strings, exp, nbf and iat numbers.",
    );
    let missing = AuthError::Unauthenticated("The token lacks a required claim (sub, role, exp).");
    let exp = AuthError::Unauthenticated(
        "The token lacks a valid `exp` claim (a number: seconds since 1970).",
    );
    for (claims, want) in [
        (
            json!({"sub": "u1", "role": ["staff"], "exp": now() + 600}),
            &wrong_type,
        ),
        (
            json!({"sub": "u1", "role": "staff", "exp": (now() + 600).to_string()}),
            &exp,
        ),
        (json!({"sub": "u1", "exp": now() + 600}), &missing),
        (json!({"sub": "u1", "role": "staff"}), &exp),
    ] {
        assert_eq!(
            auth.authenticate(&bearer(&sign(claims.clone()))).as_ref(),
            Err(want),
            "{claims}"
        );
    }
}

#[test]
fn rs256_tokens_verify_against_the_jwks() {
    let auth = Authenticator::rs256_jwks(
        include_str!("../../testdata/jwks.json"),
        Some("https://issuer.example"),
        Some("c360"),
    )
    .expect("jwks");
    let claims = json!({"sub": "u9", "role": "store_admin", "store_id": "S2", "exp": now() + 600,
        "iss": "https://issuer.example", "aud": "c360"});
    let caller = auth
        .authenticate(&bearer(&rs256(claims.clone(), Some("c360-test-1"))))
        .expect("valid");
    assert_eq!(caller.role, Role::StoreAdmin);
    let mut other_aud = claims.clone();
    other_aud["aud"] = json!("someone-else");
    assert!(auth
        .authenticate(&bearer(&rs256(other_aud, Some("c360-test-1"))))
        .is_err());
    assert!(auth
        .authenticate(&bearer(&rs256(claims.clone(), Some("unknown-kid"))))
        .is_err());
    // HS256 signed with the public key's bytes (the classic confusion attack) fails.
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some("c360-test-1".into()),
            ..jsonwebtoken::Header::new(Algorithm::HS256)
        },
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(include_bytes!(
            "../../testdata/rs256-test-key.pub.pem"
        )),
    )
    .expect("sign");
    assert!(auth.authenticate(&bearer(&hs)).is_err());
}

#[test]
fn api_gateway_mode_reads_the_authorizer_claims_and_ignores_bearer_headers() {
    let auth = Authenticator::api_gateway();
    let req: Request =
        lambda_http::request::from_str(include_str!("../../../../events/apigw/profile.json"))
            .expect("event");
    let caller = auth.authenticate(&req).expect("claims in the fixture");
    assert_eq!(caller.role, Role::Staff);
    // A bearer token alone is not trusted in this mode: nothing verified it.
    let token = sign_hs256(SECRET, "u1", Role::SuperAdmin, None, now() + 600).expect("sign");
    assert!(matches!(
        auth.authenticate(&bearer(&token)),
        Err(AuthError::Unauthenticated(_))
    ));
}
