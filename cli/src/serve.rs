//! `onboard serve`: `GET /hello` on 127.0.0.1, the way API Gateway serves it
//! behind a Cognito authorizer; on an emulator also `GET /`, the sign-in
//! page that ships, with a local stand-in for the hosted UI
//! ([`crate::hosted_ui`]) on a port of its own.
//!
//! The [`Authorizer`] does the authorizer's part: it takes the ID token from
//! the `Authorization` header (bare, as API Gateway expects it, or after
//! `Bearer `) and verifies it: an RS256 signature by one of the pool's keys
//! (its JWKS, fetched at start and again when a token names a key not seen
//! yet), the pool's issuer, the app client as audience, `token_use` = `id`,
//! and an `exp` still ahead. A request without a valid token gets API
//! Gateway's 401 and never reaches the function. A valid one reaches the
//! real greeting handler as a REST proxy event with the token's claims,
//! as strings, under `requestContext.authorizer.claims`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_lambda_events::encodings::Body as LambdaBody;
use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use greeting::Greeter;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use onboard_shared::config::GreetingConfig;
use serde_json::{Map, Value};
use tokio::sync::{RwLock, watch};

use crate::hosted_ui::{self, HostedUi};
use crate::stack::{self, Names, Stack};

/// How often the keys may be fetched again for a token with an unknown key.
const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// Why a token was refused. Never holds the token or its claims.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no token in the Authorization header")]
    Missing,
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

/// The Cognito authorizer of one user pool and app client.
pub struct Authorizer {
    jwks_url: String,
    issuer: String,
    audience: String,
    http: reqwest::Client,
    keys: RwLock<Keys>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("jwks_url", &self.jwks_url)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl Authorizer {
    /// Fetches the pool's keys once; fails when they cannot be read.
    pub async fn new(
        jwks_url: impl Into<String>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
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
            audience: audience.into(),
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
        validation.set_audience(&[&self.audience]);
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

/// The token in an `Authorization` header: bare or after `Bearer `.
fn token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        // The scheme and nothing after it.
        None if value.eq_ignore_ascii_case("bearer") => "",
        _ => value,
    };
    (!token.is_empty()).then_some(token)
}

/// Claims as API Gateway hands them to a REST API's function: strings.
fn as_strings(claims: Map<String, Value>) -> Map<String, Value> {
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

/// What the server needs.
pub struct ServeState {
    pub greeter: Greeter,
    pub authorizer: Authorizer,
    /// The sign-in page's settings, where it is served.
    pub page: Option<PageSettings>,
}

/// What API Gateway's stage gives the sign-in page, and where it is served.
#[derive(Debug, Clone)]
pub struct PageSettings {
    /// The hosted UI's origin (the stage variable `authUrl`).
    pub auth_url: String,
    /// The app client (the stage variable `clientId`).
    pub client_id: String,
    /// Where the page is served: `127.0.0.1:<port>`.
    pub host: String,
}

/// How `onboard serve` runs.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// The greeting's port on 127.0.0.1 (0 picks a free one).
    pub port: u16,
    /// The local hosted UI's port on 127.0.0.1 (0 picks a free one).
    pub hosted_ui_port: u16,
    /// How long the greeting reuses a name it read.
    pub name_cache: Duration,
}

/// Serves the greeting API for a stack's pool until `stop` turns true; on
/// an emulator, also the sign-in page and a local hosted UI for it.
pub async fn run(
    sdk: SdkConfig,
    names: Names,
    options: ServeOptions,
    stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
    let pool = stack::find_user_pool(&cognito, &names)
        .await
        .map_err(|err| err.to_string())?;
    let authorizer = Authorizer::new(
        pool.jwks_url(sdk.endpoint_url()),
        pool.issuer(),
        &pool.client_id,
    )
    .await
    .map_err(|err| err.to_string())?;
    let config = GreetingConfig {
        parameter_prefix: names.parameter_prefix.clone(),
        cache_ttl: options.name_cache,
        allowed_origin: None,
    };
    let greeter = Greeter::from_config(&config, &sdk)?;
    let listener = bind(options.port).await?;
    let address = listener.local_addr().map_err(|err| err.to_string())?;
    println!(
        "serving GET /hello on http://{address}/hello (user pool {})",
        pool.pool_id
    );
    // Only an emulator lacks the hosted UI; on AWS the stack's own serves
    // the page's sign-in, with the deployed page as its callback.
    let page = if sdk.endpoint_url().is_some() {
        let auth_listener = bind(options.hosted_ui_port).await?;
        let auth_address = auth_listener.local_addr().map_err(|err| err.to_string())?;
        let stack = Arc::new(
            Stack::from_config(sdk.clone(), names)
                .await
                .map_err(|err| err.to_string())?,
        );
        let page_url = format!("http://{address}/");
        let hosted_ui = HostedUi::new(stack, pool.clone(), page_url.clone());
        let mut stop = stop.clone();
        tokio::spawn(
            axum::serve(auth_listener, hosted_ui::app(Arc::new(hosted_ui)))
                .with_graceful_shutdown(async move {
                    let _ = stop.changed().await;
                })
                .into_future(),
        );
        println!(
            "serving the sign-in page on {page_url} with a local hosted UI on http://{auth_address} (sign-up codes are printed here)"
        );
        Some(PageSettings {
            auth_url: format!("http://{auth_address}"),
            client_id: pool.client_id.clone(),
            host: address.to_string(),
        })
    } else {
        None
    };
    let app = app(Arc::new(ServeState {
        greeter,
        authorizer,
        page,
    }));
    let mut stop = stop;
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.changed().await;
        })
        .await
        .map_err(|err| err.to_string())
}

async fn bind(port: u16) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|err| format!("cannot listen on 127.0.0.1:{port}: {err}"))
}

impl std::fmt::Debug for ServeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeState")
            .field("authorizer", &self.authorizer)
            .finish_non_exhaustive()
    }
}

/// The routes: `GET /hello`, and `GET /` where the page is served.
pub fn app(state: Arc<ServeState>) -> axum::Router {
    axum::Router::new()
        .route("/hello", axum::routing::get(hello))
        .route("/", axum::routing::get(sign_in_page))
        .with_state(state)
}

/// `GET /`: the page API Gateway serves without an authorizer, with the
/// stage's variables, as API Gateway passes them.
async fn sign_in_page(State(state): State<Arc<ServeState>>, headers: HeaderMap) -> Response {
    let Some(page) = &state.page else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"message":"Not Found"}"#,
        )
            .into_response();
    };
    let mut request = ApiGatewayProxyRequest::default();
    request.http_method = Method::GET;
    request.path = Some("/".to_owned());
    request.resource = Some("/".to_owned());
    request.headers = headers;
    request.headers.insert(
        "x-forwarded-proto",
        axum::http::HeaderValue::from_static("http"),
    );
    request.stage_variables = HashMap::from([
        ("authUrl".to_owned(), page.auth_url.clone()),
        ("clientId".to_owned(), page.client_id.clone()),
    ]);
    let context = &mut request.request_context;
    context.domain_name = Some(page.host.clone());
    context.path = Some("/".to_owned());
    context.stage = Some("local".to_owned());
    into_response(greeting::handle(&state.greeter, request).await)
}

async fn hello(
    State(state): State<Arc<ServeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let now = chrono::Utc::now().timestamp().max(0).unsigned_abs();
    let verified = match token(&headers) {
        Some(token) => state.authorizer.verify(token, now).await,
        None => Err(AuthError::Missing),
    };
    let claims = match verified {
        Ok(claims) => claims,
        Err(err) => {
            tracing::info!(reason = %err, "refused a request to /hello");
            return (
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"message":"Unauthorized"}"#,
            )
                .into_response();
        }
    };
    let mut request = ApiGatewayProxyRequest::default();
    request.http_method = method;
    request.path = Some(uri.path().to_owned());
    request.resource = Some("/hello".to_owned());
    request.headers = headers;
    request
        .request_context
        .authorizer
        .fields
        .insert("claims".to_owned(), Value::Object(as_strings(claims)));
    into_response(greeting::handle(&state.greeter, request).await)
}

/// API Gateway's translation of a proxy response into HTTP.
fn into_response(lambda: ApiGatewayProxyResponse) -> Response {
    let status = u16::try_from(lambda.status_code)
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let body = match lambda.body {
        Some(LambdaBody::Text(text)) => text.into_bytes(),
        Some(LambdaBody::Binary(bytes)) => bytes,
        _ => Vec::new(),
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    for (name, value) in lambda
        .multi_value_headers
        .iter()
        .chain(lambda.headers.iter())
    {
        headers.insert(name.clone(), value.clone());
    }
    response
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
        assert_eq!(token(&with("abc.def.ghi")), Some("abc.def.ghi"));
        assert_eq!(token(&with("Bearer abc.def.ghi")), Some("abc.def.ghi"));
        assert_eq!(token(&with("bearer  abc")), Some("abc"));
        assert_eq!(token(&with("Bearer ")), None);
        assert_eq!(token(&HeaderMap::new()), None);
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
