//! Who is calling. Behind API Gateway the JWT authorizer has verified the token and the
//! function reads its claims from the request context; where no authorizer runs (`c360-dev
//! serve`, `cargo lambda watch`) the function verifies the bearer token itself, RS256
//! against a JWKS or HS256 with a shared secret. The mode is configuration (`C360_AUTH`):
//! a function never falls back to reading an unverified token.

use c360_domain::access::{Caller, Role};
use c360_domain::StoreId;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use lambda_http::{Request, RequestExt};
use serde::Deserialize;

/// Why a request is not authenticated (401) or its claims are not usable (403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    Forbidden(String),
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    role: String,
    #[serde(default)]
    store_id: Option<String>,
    /// RFC 7519 §4.1.5 "not before", seconds since the epoch (a NumericDate may have a fraction).
    #[serde(default)]
    nbf: Option<f64>,
    /// RFC 7519 §4.1.6 "issued at", seconds since the epoch.
    #[serde(default)]
    iat: Option<f64>,
}

/// Clock skew tolerated between the token issuer and this function, in seconds, for `exp`,
/// `nbf` and `iat` alike.
const LEEWAY_SECS: u64 = 30;

/// Rejects a token that is not valid yet (`nbf` ahead of now) or claims to be issued in the
/// future (`iat` ahead of now), beyond [`LEEWAY_SECS`]: RFC 7519 §4.1.5 and §4.1.6. Applied in
/// every mode, API Gateway's claims included, so no mode accepts what another refuses.
fn check_not_before(claims: &Claims, now_unix: i64) -> Result<(), AuthError> {
    let latest = (now_unix + LEEWAY_SECS as i64) as f64;
    if claims.nbf.is_some_and(|nbf| nbf.is_nan() || nbf > latest) {
        return Err(AuthError::Unauthenticated("The token is not valid yet."));
    }
    if claims.iat.is_some_and(|iat| iat.is_nan() || iat > latest) {
        return Err(AuthError::Unauthenticated(
            "The token claims to be issued in the future.",
        ));
    }
    Ok(())
}

enum Mode {
    /// Claims from `requestContext.authorizer.jwt.claims`, verified by API Gateway.
    ApiGateway,
    /// The function verifies `Authorization: Bearer …` itself.
    Verify {
        /// Keys by `kid`; a key without `kid` matches a token without one.
        keys: Vec<(Option<String>, DecodingKey)>,
        validation: Box<Validation>,
    },
}

pub struct Authenticator {
    mode: Mode,
}

fn validation(alg: Algorithm, issuer: Option<&str>, audience: Option<&str>) -> Validation {
    let mut v = Validation::new(alg);
    v.leeway = LEEWAY_SECS;
    v.validate_nbf = true;
    v.set_required_spec_claims(&["exp", "sub"]);
    match audience {
        Some(aud) => v.set_audience(&[aud]),
        None => v.validate_aud = false,
    }
    if let Some(iss) = issuer {
        v.set_issuer(&[iss]);
    }
    v
}

impl Authenticator {
    /// Trusts the claims API Gateway's JWT authorizer put in the request context.
    pub fn api_gateway() -> Self {
        Authenticator {
            mode: Mode::ApiGateway,
        }
    }

    /// Verifies HS256 tokens signed with `secret` (local runs).
    pub fn hs256(secret: &[u8], issuer: Option<&str>, audience: Option<&str>) -> Self {
        Authenticator {
            mode: Mode::Verify {
                keys: vec![(None, DecodingKey::from_secret(secret))],
                validation: Box::new(validation(Algorithm::HS256, issuer, audience)),
            },
        }
    }

    /// Verifies RS256 tokens against the RSA keys of a JWKS document.
    pub fn rs256_jwks(
        jwks_json: &str,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Self, String> {
        let set: JwkSet =
            serde_json::from_str(jwks_json).map_err(|e| format!("not a JWKS document: {e}"))?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.push((jwk.common.key_id.clone(), key));
            }
        }
        if keys.is_empty() {
            return Err("the JWKS holds no usable key".into());
        }
        Ok(Authenticator {
            mode: Mode::Verify {
                keys,
                validation: Box::new(validation(Algorithm::RS256, issuer, audience)),
            },
        })
    }

    /// From `C360_AUTH` (`api-gateway`, the default; `hs256` with `C360_JWT_SECRET`;
    /// `rs256` with `C360_JWKS` or `C360_JWKS_FILE`), and optionally `C360_JWT_ISSUER` and
    /// `C360_JWT_AUDIENCE`.
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let issuer = var("C360_JWT_ISSUER");
        let audience = var("C360_JWT_AUDIENCE");
        match var("C360_AUTH").as_deref().unwrap_or("api-gateway") {
            "api-gateway" => Ok(Authenticator::api_gateway()),
            "hs256" => {
                let secret = var("C360_JWT_SECRET")
                    .ok_or("C360_AUTH=hs256 needs C360_JWT_SECRET".to_string())?;
                if secret.len() < 32 {
                    return Err("C360_JWT_SECRET must be at least 32 characters".into());
                }
                Ok(Authenticator::hs256(
                    secret.as_bytes(),
                    issuer.as_deref(),
                    audience.as_deref(),
                ))
            }
            "rs256" => {
                let jwks = match (var("C360_JWKS"), var("C360_JWKS_FILE")) {
                    (Some(json), _) => json,
                    (None, Some(path)) => std::fs::read_to_string(&path)
                        .map_err(|e| format!("C360_JWKS_FILE {path}: {e}"))?,
                    (None, None) => {
                        return Err("C360_AUTH=rs256 needs C360_JWKS or C360_JWKS_FILE".into())
                    }
                };
                Authenticator::rs256_jwks(&jwks, issuer.as_deref(), audience.as_deref())
                    .map_err(|e| format!("C360_JWKS: {e}"))
            }
            other => Err(format!(
                "C360_AUTH must be api-gateway, hs256 or rs256; got `{other}`"
            )),
        }
    }

    pub fn authenticate(&self, req: &Request) -> Result<Caller, AuthError> {
        let claims = match &self.mode {
            Mode::ApiGateway => authorizer_claims(req)?,
            Mode::Verify { keys, validation } => verify(req, keys, validation)?,
        };
        check_not_before(&claims, chrono::Utc::now().timestamp())?;
        caller(claims)
    }
}

fn authorizer_claims(req: &Request) -> Result<Claims, AuthError> {
    let claims = match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims),
        _ => None,
    }
    .ok_or(AuthError::Unauthenticated(
        "No verified token: send `Authorization: Bearer <token>`.",
    ))?;
    let get = |k: &str| claims.get(k).filter(|v| !v.is_empty()).cloned();
    // API Gateway hands claims over as strings; a time that is not a number cannot be checked.
    let time = |k: &str| -> Result<Option<f64>, AuthError> {
        get(k)
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .map_err(|_| AuthError::Unauthenticated("The token's times are not numbers."))
            })
            .transpose()
    };
    Ok(Claims {
        sub: get("sub").ok_or(AuthError::Unauthenticated("The token has no `sub` claim."))?,
        role: get("role").unwrap_or_default(),
        store_id: get("store_id"),
        nbf: time("nbf")?,
        iat: time("iat")?,
    })
}

fn verify(
    req: &Request,
    keys: &[(Option<String>, DecodingKey)],
    validation: &Validation,
) -> Result<Claims, AuthError> {
    let header = req
        .headers()
        .get("authorization")
        .ok_or(AuthError::Unauthenticated(
            "Missing credentials: send `Authorization: Bearer <token>`.",
        ))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::Unauthenticated(
            "The Authorization header must be `Bearer <token>`.",
        ))?;
    let malformed = AuthError::Unauthenticated("The token is not a well-formed JWT.");
    let kid = jsonwebtoken::decode_header(token)
        .map_err(|_| malformed.clone())?
        .kid;
    let key = keys
        .iter()
        .find(|(k, _)| *k == kid)
        .or_else(|| (keys.len() == 1 && kid.is_none()).then(|| &keys[0]))
        .map(|(_, key)| key)
        .ok_or(AuthError::Unauthenticated(
            "The token is signed with an unknown key.",
        ))?;
    use jsonwebtoken::errors::ErrorKind;
    jsonwebtoken::decode::<Claims>(token, key, validation)
        .map(|data| data.claims)
        .map_err(|e| {
            AuthError::Unauthenticated(match e.kind() {
                ErrorKind::ExpiredSignature => "The token has expired.",
                ErrorKind::ImmatureSignature => "The token is not valid yet.",
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                    "The token's signature does not verify."
                }
                ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => {
                    "The token was issued for another service."
                }
                // Missing, or not of its type (the library cannot tell them apart).
                ErrorKind::MissingRequiredClaim(c) if c == "exp" => {
                    "The token lacks a valid `exp` claim (a number: seconds since 1970)."
                }
                ErrorKind::MissingRequiredClaim(c) if c == "sub" => {
                    "The token lacks a valid `sub` claim (a string)."
                }
                ErrorKind::MissingRequiredClaim(_) => {
                    "The token lacks a required claim (sub, role, exp)."
                }
                ErrorKind::Json(j) if j.to_string().contains("missing field") => {
                    "The token lacks a required claim (sub, role, exp)."
                }
                // Present but of the wrong type (`role` an array, `exp` a string): saying
                // "lacks" sent a field report looking for a claim that was there.
                ErrorKind::Json(_) => {
                    "The token's claims do not read: sub, role and store_id must be strings, exp, nbf and iat numbers."
                }
                _ => "The token is not a well-formed JWT.",
            })
        })
}

fn caller(claims: Claims) -> Result<Caller, AuthError> {
    let role = Role::parse(&claims.role).ok_or_else(|| {
        AuthError::Forbidden("The token's `role` must be super_admin, store_admin or staff.".into())
    })?;
    let store = match claims.store_id {
        None => None,
        Some(s) => Some(StoreId::parse(&s).map_err(|_| {
            AuthError::Unauthenticated("The token's `store_id` claim is not a store id.")
        })?),
    };
    Ok(Caller {
        sub: claims.sub,
        role,
        store,
    })
}

/// Signs a token for local runs and tests (`c360-dev` prints some). Not used by the functions.
pub fn sign_hs256(
    secret: &[u8],
    sub: &str,
    role: Role,
    store: Option<&str>,
    expires_at_unix: i64,
) -> Result<String, String> {
    let mut claims = serde_json::json!({"sub": sub, "role": role.as_str(), "exp": expires_at_unix});
    if let Some(s) = store {
        claims["store_id"] = serde_json::json!(s);
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
