//! The greeting: `GET /hello` behind API Gateway's Cognito authorizer answers
//! "Hello, <name>"; `GET /` is the public sign-in page, the hosted UI's
//! callback ([`sign_in_page`], in `sign_in.rs`).
//!
//! The name comes from the packed names the publish writer keeps (one
//! `GetParameters` call reads the parameter holding it and many other
//! users), cached for a short time across invocations, and falls back to the token's claims
//! (never to anything that looks like an email). JSON by default; an HTML
//! page when the client prefers `text/html`, with every user-supplied value
//! escaped. Without authorizer claims the answer is 401.

mod lambda;
pub use lambda::invoke;

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::http::{HeaderMap, HeaderValue, Method, header};
use onboard_shared::domain::UserId;
use onboard_shared::error::PortError;
use onboard_shared::names::NamesReader;
use onboard_shared::ports::{NamesStore, ParameterStore};
use onboard_shared::published::ParameterPrefix;
use onboard_shared::telemetry::metrics::{Counts, Metric};
use serde_json::{Value, json};

mod sign_in;
pub use sign_in::sign_in_page;

pub struct Greeter {
    names: NamesReader,
    /// The browser origin allowed to read the answers (CORS), if any.
    allowed_origin: Option<HeaderValue>,
}

impl std::fmt::Debug for Greeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Greeter")
            .field("names", &self.names)
            .finish()
    }
}

impl Greeter {
    /// A greeter reading the packed names (and, for a user they do not
    /// hold yet, the one-parameter-a-user layout of before), keeping what
    /// it read for `cache_ttl`.
    pub fn new(
        names: Arc<dyn NamesStore>,
        legacy: Arc<dyn ParameterStore>,
        prefix: ParameterPrefix,
        cache_ttl: Duration,
    ) -> Self {
        Self {
            names: NamesReader::new(names, legacy, prefix, cache_ttl),
            allowed_origin: None,
        }
    }

    /// Lets pages of this origin (`*` for any) read the answers. An origin
    /// that cannot be a header value is refused.
    pub fn allowing_origin(mut self, origin: &str) -> Result<Self, NotAnOrigin> {
        let origin = HeaderValue::from_str(origin.trim())
            .map_err(|source| NotAnOrigin(origin.to_owned(), source))?;
        self.allowed_origin = Some(origin);
        Ok(self)
    }

    /// The published display name, from the cache or the parameter store.
    /// `None` when there is none (yet) or the store cannot be read now
    /// (`Throttled` when it was throttled, for the metrics).
    async fn published_name(&self, user: &UserId) -> Result<Option<String>, Throttled> {
        match self.names.name(user).await {
            Ok(name) => Ok(name),
            Err(err) => {
                // The greeting still works from the token's claims.
                tracing::warn!(user_id = %user, error = %err.chain(), "could not read the published names");
                match err {
                    PortError::Throttled { .. } => Err(Throttled),
                    _ => Ok(None),
                }
            }
        }
    }
}

/// The authorizer's claims, as API Gateway passes them for a Cognito
/// authorizer on a REST API.
fn claims(request: &ApiGatewayProxyRequest) -> Option<&serde_json::Map<String, Value>> {
    request
        .request_context
        .authorizer
        .fields
        .get("claims")?
        .as_object()
}

/// A name from the token's claims, skipping anything that looks like an email.
fn name_from_claims(claims: &serde_json::Map<String, Value>) -> Option<String> {
    let claim = |key: &str| {
        claims
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty() && !v.contains('@'))
    };
    claim("name")
        .map(str::to_owned)
        .or_else(|| match (claim("given_name"), claim("family_name")) {
            (Some(given), Some(family)) => Some(format!("{given} {family}")),
            (Some(given), None) => Some(given.to_owned()),
            _ => None,
        })
        .or_else(|| claim("preferred_username").map(str::to_owned))
}

/// Whether the client prefers HTML to JSON, by the q-values of its `Accept`.
fn prefers_html(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let quality = |wanted: &str| {
        accept
            .split(',')
            .filter_map(|range| {
                let mut parts = range.split(';');
                let media = parts.next()?.trim();
                if !media.eq_ignore_ascii_case(wanted) {
                    return None;
                }
                let q = parts
                    .find_map(|p| {
                        p.trim()
                            .strip_prefix("q=")
                            .and_then(|q| q.trim().parse::<f32>().ok())
                    })
                    .unwrap_or(1.0);
                Some(q)
            })
            .fold(0.0_f32, f32::max)
    };
    let html = quality("text/html");
    html > 0.0 && html > quality("application/json")
}

fn response(status: i64, content_type: &'static str, body: String) -> ApiGatewayProxyResponse {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The answer depends on who asks and how.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Authorization"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.headers = headers;
    response.body = Some(Body::Text(body));
    response
}

fn json_response(status: i64, body: Value) -> ApiGatewayProxyResponse {
    response(status, "application/json; charset=utf-8", body.to_string())
}

/// The greeting page. Every user-supplied value passes through the escaper.
fn html_page(name: &str) -> String {
    let name = html_escape::encode_text(name);
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>onboard</title></head>\n\
         <body><h1>Hello, {name}</h1></body>\n</html>\n"
    )
}

/// The metric an answer counts in: a greeting, or a request answered
/// without one (401, 404, ...).
pub fn metric(response: &ApiGatewayProxyResponse) -> Metric {
    if (200..300).contains(&response.status_code) {
        Metric::Greeted
    } else {
        Metric::Unanswered
    }
}

/// Answers one API Gateway request.
pub async fn handle(greeter: &Greeter, request: ApiGatewayProxyRequest) -> ApiGatewayProxyResponse {
    answer(greeter, request).await.response
}

/// An `ALLOWED_ORIGIN` that cannot be a header value.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an origin")]
pub struct NotAnOrigin(
    String,
    #[source] aws_lambda_events::http::header::InvalidHeaderValue,
);

/// The read of a name that Parameter Store throttled (after the SDK's own
/// retries): the greeting falls back to the token's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled;

/// An answer, and what its metrics count.
#[derive(Debug)]
pub struct Answered {
    pub response: ApiGatewayProxyResponse,
    pub counts: Counts,
}

/// [`handle`], with what the invocation counts: the answer's metric, and
/// a throttled read of the name.
pub async fn answer(greeter: &Greeter, request: ApiGatewayProxyRequest) -> Answered {
    let mut throttled = false;
    let mut response = if request.http_method != Method::GET && request.http_method != Method::HEAD
    {
        json_response(405, json!({ "message": "Method Not Allowed" }))
    } else if request.resource.as_deref() == Some("/") {
        sign_in_page(&request)
    } else {
        let (response, was_throttled) = greet(greeter, &request).await;
        throttled = was_throttled;
        response
    };
    if let Some(origin) = &greeter.allowed_origin {
        response
            .headers
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
    let mut counts = Counts::one(metric(&response));
    if throttled {
        counts.add(Metric::Throttles, 1);
    }
    Answered { response, counts }
}

/// `GET /hello`: the greeting, for the user the authorizer vouched for;
/// and whether the read of the name was throttled.
async fn greet(
    greeter: &Greeter,
    request: &ApiGatewayProxyRequest,
) -> (ApiGatewayProxyResponse, bool) {
    let Some(claims) = claims(request) else {
        return (unauthorized(), false);
    };
    let Some(user) = claims
        .get("sub")
        .and_then(Value::as_str)
        .and_then(|sub| UserId::parse(sub).ok())
    else {
        return (unauthorized(), false);
    };
    let published = greeter.published_name(&user).await;
    let throttled = published.is_err();
    let name = match published {
        Ok(Some(name)) => name,
        _ => name_from_claims(claims).unwrap_or_else(|| "there".to_owned()),
    };
    tracing::info!(user_id = %user, "greeted");
    if prefers_html(&request.headers) {
        let mut page = response(200, "text/html; charset=utf-8", html_page(&name));
        page.headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
        (page, throttled)
    } else {
        let message = json!({ "message": format!("Hello, {name}") });
        (json_response(200, message), throttled)
    }
}

fn unauthorized() -> ApiGatewayProxyResponse {
    let mut response = json_response(401, json!({ "message": "Unauthorized" }));
    response
        .headers
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

#[cfg(test)]
mod tests;
