//! The parts of an API Gateway answer every API function shares: who the
//! Cognito authorizer vouched for, and JSON answers that no cache keeps.

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::http::{HeaderMap, HeaderValue, header};
use serde_json::{Value, json};

use crate::domain::UserId;

/// The authorizer's claims, as API Gateway passes them for a Cognito
/// authorizer on a REST API.
pub fn claims(request: &ApiGatewayProxyRequest) -> Option<&serde_json::Map<String, Value>> {
    request
        .request_context
        .authorizer
        .fields
        .get("claims")?
        .as_object()
}

/// Who the authorizer vouched for: taken from the token's claims only,
/// never from the body or the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's `sub`: the key of the table, the archive and the names.
    pub user: UserId,
    /// The token's `cognito:username`: what the pool's admin calls take.
    pub username: String,
}

impl Caller {
    /// The caller of a request, when the authorizer's claims name one.
    pub fn of(request: &ApiGatewayProxyRequest) -> Option<Caller> {
        let claims = claims(request)?;
        let text = |key: &str| claims.get(key).and_then(Value::as_str);
        let user = UserId::parse(text("sub")?).ok()?;
        // A pool that signs users in by email names them by their sub.
        let username = text("cognito:username").unwrap_or(user.as_str()).to_owned();
        Some(Caller { user, username })
    }
}

/// An answer of a content type that depends on who asks, so no cache keeps it.
pub fn response(status: i64, content_type: &'static str, body: String) -> ApiGatewayProxyResponse {
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

/// A JSON answer.
pub fn json_response(status: i64, body: Value) -> ApiGatewayProxyResponse {
    response(status, "application/json; charset=utf-8", body.to_string())
}

/// API Gateway's answer to a request without a valid token.
pub fn unauthorized() -> ApiGatewayProxyResponse {
    let mut response = json_response(401, json!({ "message": "Unauthorized" }));
    response
        .headers
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The version a client says it has seen, from `?version=N`: a greeting
/// never shows one older.
pub fn seen_version(request: &ApiGatewayProxyRequest) -> Option<crate::domain::Version> {
    request
        .query_string_parameters
        .first("version")
        .and_then(|raw| raw.parse::<u64>().ok())
        .and_then(|raw| crate::domain::Version::new(raw).ok())
}
