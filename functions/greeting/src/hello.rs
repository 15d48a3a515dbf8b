//! `GET /hello`: "Hello, <name>" for the user the authorizer vouched for.
//!
//! The name is the published one (the packed names, cached for a short
//! time), unless the caller says (`?version=N`, the version `PATCH /me`
//! answered with) that they have seen a newer version than the published
//! one: then it is the row's, read strongly consistent. So no answer is
//! older than what the caller just did. Without either, the token's claims.
//! The answer says the version it shows.

use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::http::{HeaderMap, HeaderValue, header};
use onboard_shared::api::{claims, json_response, response, seen_version, unauthorized};
use onboard_shared::domain::{UserId, Version};
use serde_json::{Value, json};

use crate::{Greeter, Throttled, shown};

/// What a greeting shows: a name, and the version of the user it is of
/// (none for a name from the token).
struct Shown {
    name: String,
    version: Option<Version>,
}

/// `GET /hello`: the greeting, for the user the authorizer vouched for;
/// and whether the read of the name was throttled.
pub(crate) async fn greet(
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
    let seen = seen_version(request);
    let published = greeter.published_entry(&user).await;
    let throttled = matches!(published, Err(Throttled));
    let published = published
        .ok()
        .flatten()
        .filter(|entry| entry.name.is_some());
    let behind = match (&published, seen) {
        (_, None) => false,
        (Some(entry), Some(seen)) => entry.revision.version < seen,
        (None, Some(_)) => true,
    };
    let from_claims = || Shown {
        name: name_from_claims(claims).unwrap_or_else(|| "there".to_owned()),
        version: None,
    };
    let greeted = if behind {
        match greeter.row_name(&user).await {
            Ok(Some(shown)) => shown,
            Ok(None) => from_claims(),
            Err(Erased) => {
                return (
                    json_response(410, json!({ "message": "This account was deleted" })),
                    throttled,
                );
            }
        }
    } else {
        match published {
            Some(entry) => Shown {
                name: entry.name.unwrap_or_default(),
                version: Some(entry.revision.version),
            },
            None => from_claims(),
        }
    };
    let name = shown(&greeted.name);
    tracing::info!(user_id = %user, version = ?greeted.version.map(Version::get), "greeted");
    if prefers_html(&request.headers) {
        let mut page = response(200, "text/html; charset=utf-8", html_page(&name));
        page.headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
        (page, throttled)
    } else {
        let mut message = json!({ "message": format!("Hello, {name}") });
        if let Some(version) = greeted.version {
            message["version"] = json!(version.get());
        }
        (json_response(200, message), throttled)
    }
}

/// The row says the user erased their account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Erased;

impl Greeter {
    /// The name the user's row holds now (a strongly consistent read), for
    /// a caller who has seen a version the names have not published yet.
    /// `None` when there is no row or it cannot be read now.
    async fn row_name(&self, user: &UserId) -> Result<Option<Shown>, Erased> {
        let Some(rows) = &self.rows else {
            return Ok(None);
        };
        match rows.get(user).await {
            Ok(Some(row)) if row.is_erased() => Err(Erased),
            Ok(Some(row)) => Ok(row.display_name().map(|name| Shown {
                name,
                version: Some(row.version),
            })),
            Ok(None) => Ok(None),
            Err(err) => {
                tracing::warn!(user_id = %user, error = %err.chain(), "could not read the user's row");
                Ok(None)
            }
        }
    }
}

/// A name from the token's claims, skipping anything that looks like an email.
pub(crate) fn name_from_claims(claims: &serde_json::Map<String, Value>) -> Option<String> {
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
pub(crate) fn prefers_html(headers: &HeaderMap) -> bool {
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

/// The greeting page. Every user-supplied value passes through the escaper.
fn html_page(name: &str) -> String {
    let name = html_escape::encode_text(name);
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>onboard</title></head>\n\
         <body><h1>Hello, {name}</h1></body>\n</html>\n"
    )
}
