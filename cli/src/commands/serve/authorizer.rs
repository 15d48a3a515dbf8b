//! API Gateway's Cognito authorizer, for `onboard serve`: it takes the ID
//! token from the `Authorization` header (bare, as API Gateway expects it,
//! or after `Bearer `) and verifies it: an RS256 signature by one of the
//! pool's keys (its JWKS, fetched at start and again when a token names a
//! key not seen yet), the pool's issuer, one of the stack's app clients as
//! audience (API Gateway's authorizer takes any client of the pool),
//! `token_use` = `id`, and an `exp` still ahead. The claims reach the
//! function as API Gateway passes them: strings.
//!
//! A request with more than one `Authorization` header is refused (401)
//! whatever the values: AWS does not document which of them a Cognito
//! authorizer checks (the proxy event's `headers` keeps the last, the
//! `multiValueHeaders` all), and a server that checks one value while the
//! function reads another would greet one user as another.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::RwLock;

/// How often the keys may be fetched again for a token with an unknown key.
const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// Why a token was refused. Never holds the token or its claims.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no token in the Authorization header")]
    Missing,
    #[error("more than one Authorization header: which one to check is ambiguous")]
    Ambiguous,
    #[error("the token is not a JWT: {0}")]
    Malformed(String),
    #[error("the token is signed with {0:?}, not RS256")]
    Algorithm(Algorithm),
    #[error("the token's signing key `{0}` is not one of the pool's")]
    UnknownKey(String),
    #[error("the token is not valid: {0}")]
    Invalid(String),
    #[error("the token is not an ID token")]
    NotAnIdToken,
    #[error("the token has expired")]
    Expired,
    #[error("the pool's signing keys could not be read from {url}: {reason}")]
    Keys { url: String, reason: String },
}

struct Keys {
    by_id: HashMap<String, DecodingKey>,
    fetched_at: Instant,
}

/// The Cognito authorizer of one user pool and its app clients.
pub struct Authorizer {
    jwks_url: String,
    issuer: String,
    audiences: Vec<String>,
    http: reqwest::Client,
    keys: RwLock<Keys>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("jwks_url", &self.jwks_url)
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

impl Authorizer {
    /// Fetches the pool's keys once; fails when they cannot be read.
    pub async fn new(
        jwks_url: impl Into<String>,
        issuer: impl Into<String>,
        audiences: &[&str],
    ) -> Result<Self, AuthError> {
        let jwks_url = jwks_url.into();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|err| AuthError::Keys {
                url: jwks_url.clone(),
                reason: err.to_string(),
            })?;
        let by_id = fetch_keys(&http, &jwks_url).await?;
        Ok(Self {
            jwks_url,
            issuer: issuer.into(),
            audiences: audiences.iter().map(|&a| a.to_owned()).collect(),
            http,
            keys: RwLock::new(Keys {
                by_id,
                fetched_at: Instant::now(),
            }),
        })
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        if let Some(key) = self.keys.read().await.by_id.get(kid) {
            return Ok(key.clone());
        }
        // Cognito rotates keys rarely; a key not seen yet may be new.
        let mut keys = self.keys.write().await;
        if keys.fetched_at.elapsed() >= KEY_REFRESH_INTERVAL {
            keys.by_id = fetch_keys(&self.http, &self.jwks_url).await?;
            keys.fetched_at = Instant::now();
        }
        keys.by_id
            .get(kid)
            .cloned()
            .ok_or_else(|| AuthError::UnknownKey(kid.to_owned()))
    }

    /// Verifies an ID token at `now` (seconds since the epoch) and returns
    /// its claims.
    pub async fn verify(&self, token: &str, now: u64) -> Result<Map<String, Value>, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|err| AuthError::Malformed(err.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Algorithm(header.alg));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::Malformed("no key id (kid)".to_owned()))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked below against the given clock.
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|err| AuthError::Invalid(err.to_string()))?;
        let claims = data.claims;
        if claims.get("token_use").and_then(Value::as_str) != Some("id") {
            return Err(AuthError::NotAnIdToken);
        }
        match claims.get("exp").and_then(Value::as_u64) {
            Some(exp) if exp > now => Ok(claims),
            _ => Err(AuthError::Expired),
        }
    }
}

async fn fetch_keys(
    http: &reqwest::Client,
    url: &str,
) -> Result<HashMap<String, DecodingKey>, AuthError> {
    let error = |reason: String| AuthError::Keys {
        url: url.to_owned(),
        reason,
    };
    let set: JwkSet = http
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|err| error(err.to_string()))?
        .json()
        .await
        .map_err(|err| error(err.to_string()))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|err| error(err.to_string()))?;
        keys.insert(kid, key);
    }
    if keys.is_empty() {
        return Err(error("the key set has no keys with an id".to_owned()));
    }
    Ok(keys)
}

/// The token in the one `Authorization` header: bare or after `Bearer `.
/// Two or more such headers are refused, whatever they hold.
pub(super) fn token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(header::AUTHORIZATION) {
            AuthError::Ambiguous
        } else {
            AuthError::Missing
        });
    };
    let value = value.to_str().map_err(|_| AuthError::Missing)?.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        // The scheme and nothing after it.
        None if value.eq_ignore_ascii_case("bearer") => "",
        _ => value,
    };
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token)
}

/// Claims as API Gateway hands them to a REST API's function: strings.
pub(super) fn as_strings(claims: Map<String, Value>) -> Map<String, Value> {
    claims
        .into_iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            (name, Value::String(text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_taken_bare_or_after_bearer() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            headers
        };
        assert_eq!(token(&with("abc.def.ghi")).ok(), Some("abc.def.ghi"));
        assert_eq!(token(&with("Bearer abc.def.ghi")).ok(), Some("abc.def.ghi"));
        assert_eq!(token(&with("bearer  abc")).ok(), Some("abc"));
        assert!(matches!(token(&with("Bearer ")), Err(AuthError::Missing)));
        assert!(matches!(token(&HeaderMap::new()), Err(AuthError::Missing)));
    }

    #[test]
    fn two_authorization_headers_are_ambiguous_even_when_they_agree() {
        for (first, second) in [("abc.def.ghi", "not-a-jwt"), ("abc.def.ghi", "abc.def.ghi")] {
            let mut headers = HeaderMap::new();
            headers.append(header::AUTHORIZATION, first.parse().unwrap());
            headers.append(header::AUTHORIZATION, second.parse().unwrap());
            assert!(matches!(token(&headers), Err(AuthError::Ambiguous)));
        }
    }

    #[test]
    fn claims_reach_the_function_as_strings() {
        let claims = serde_json::json!({"sub": "u1", "exp": 17, "email_verified": true});
        let Value::Object(claims) = claims else {
            unreachable!()
        };
        assert_eq!(
            Value::Object(as_strings(claims)),
            serde_json::json!({"sub": "u1", "exp": "17", "email_verified": "true"})
        );
    }
}
