//! Customer360's API wing: what answers a request. Depends on no projector code.
//!
//! - [`http`]: the Lambda entry point of the HTTP functions: parameters, errors, the envelope.
//! - [`auth`]: who is calling (HS256, RS256/JWKS or API Gateway's verified claims).
//! - [`audit`]: the query audit log.
//! - [`reads`]: profile, timeline, value and search from the store.
//! - [`erase`]: a customer's projection erased and their identifiers suppressed.
//! - [`recommend`]: the recommendations answer (dishes and coupons).

pub mod audit;
pub mod auth;
pub mod erase;
pub mod http;
pub mod reads;
pub mod recommend;
pub mod seal;
pub mod segments;
