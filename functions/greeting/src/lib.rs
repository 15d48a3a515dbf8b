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
mod tests {
    use super::*;
    use onboard_shared::local::FileParameters;

    const JSON: &str = include_str!("../../../fixtures/apigw/hello-json.json");
    const HTML: &str = include_str!("../../../fixtures/apigw/hello-html.json");
    const UNSAFE: &str = include_str!("../../../fixtures/apigw/hello-html-unsafe-name.json");
    const NO_CLAIMS: &str = include_str!("../../../fixtures/apigw/hello-without-claims.json");
    const PAGE: &str = include_str!("../../../fixtures/apigw/sign-in-page.json");
    const ZOE: &str = "/onboard/users/7d8a3f4e-0b1c-4e6f-9a2b-3c4d5e6f7a8b/name";

    use onboard_shared::domain::{Revision, Version};
    use onboard_shared::names::{
        Entry, Layout, LeafId, NamesPaths, Tier, UserKey, read_value, value_of,
    };
    use onboard_shared::ports::NamesStore;

    fn greeter(store: Arc<FileParameters>, ttl: Duration) -> Greeter {
        Greeter::new(
            store.clone(),
            store,
            ParameterPrefix::parse("onboard").unwrap(),
            ttl,
        )
    }

    fn request(json: &str) -> ApiGatewayProxyRequest {
        serde_json::from_str(json).unwrap()
    }

    /// The text body of an answer (the sign-in page's tests use it too).
    pub(crate) fn body(response: &ApiGatewayProxyResponse) -> &str {
        match &response.body {
            Some(Body::Text(text)) => text,
            _ => panic!("no text body"),
        }
    }

    fn content_type(response: &ApiGatewayProxyResponse) -> &str {
        response.headers[header::CONTENT_TYPE].to_str().unwrap()
    }

    /// Publishes names as the writer packs them: one leaf, and its summary.
    async fn publish(store: &FileParameters, names: &[(&str, &str)]) {
        let mut layout = Layout::new(5_000);
        for (user, name) in names {
            layout.merge(
                &UserId::parse(*user).unwrap(),
                Entry {
                    revision: Revision {
                        version: Version::new(1).unwrap(),
                        removed: false,
                    },
                    name: Some((*name).to_owned()),
                },
            );
        }
        let plan = layout.plan().unwrap();
        let paths = NamesPaths::new(&ParameterPrefix::parse("onboard").unwrap());
        for put in plan.puts {
            store
                .put_tiered(&paths.leaf(put.id), &put.value, put.tier)
                .await
                .unwrap();
        }
        let summary = serde_json::to_string(&plan.summary.unwrap()).unwrap();
        store
            .put_tiered(&paths.summary(), &summary, Tier::Standard)
            .await
            .unwrap();
    }

    /// The token's user in the fixtures.
    const ZOE_SUB: &str = "7d8a3f4e-0b1c-4e6f-9a2b-3c4d5e6f7a8b";

    #[tokio::test]
    async fn the_name_comes_from_the_published_names() {
        let store = Arc::new(FileParameters::in_memory());
        publish(&store, &[(ZOE_SUB, "Zoë M."), ("someone-else", "Ada")]).await;
        let response = handle(&greeter(store, Duration::from_secs(60)), request(JSON)).await;
        assert_eq!(response.status_code, 200);
        assert_eq!(content_type(&response), "application/json; charset=utf-8");
        assert_eq!(body(&response), r#"{"message":"Hello, Zoë M."}"#);
    }

    #[tokio::test]
    async fn without_a_parameter_the_name_falls_back_to_the_claims_and_never_the_email() {
        let store = Arc::new(FileParameters::in_memory());
        let response = handle(&greeter(store, Duration::from_secs(60)), request(JSON)).await;
        assert_eq!(body(&response), r#"{"message":"Hello, Zoë Martin"}"#);
        assert!(!body(&response).contains("example.com"));

        let mut only_email = request(JSON);
        let claims = only_email
            .request_context
            .authorizer
            .fields
            .get_mut("claims")
            .unwrap();
        claims.as_object_mut().unwrap().remove("name");
        claims["preferred_username"] = "zoe@example.com".into();
        let store = Arc::new(FileParameters::in_memory());
        let response = handle(&greeter(store, Duration::from_secs(60)), only_email).await;
        assert_eq!(body(&response), r#"{"message":"Hello, there"}"#);
    }

    #[tokio::test]
    async fn names_are_cached_across_invocations_for_a_short_time() {
        let store = Arc::new(FileParameters::in_memory());
        publish(&store, &[(ZOE_SUB, "Zoë")]).await;
        let cached = greeter(store.clone(), Duration::from_secs(60));
        for _ in 0..3 {
            let response = handle(&cached, request(JSON)).await;
            assert_eq!(body(&response), r#"{"message":"Hello, Zoë"}"#);
        }
        // The summary and the parameter that holds the user: once.
        assert_eq!(store.calls.get("GetParameters"), 2);
        let uncached = greeter(store.clone(), Duration::ZERO);
        for _ in 0..2 {
            handle(&uncached, request(JSON)).await;
        }
        assert_eq!(store.calls.get("GetParameters"), 6);
        assert_eq!(
            store.calls.get("GetParameter"),
            0,
            "no one-parameter-a-user read"
        );
    }

    #[tokio::test]
    async fn while_a_stack_is_migrated_a_user_of_the_old_layout_is_greeted_by_name() {
        let store = Arc::new(FileParameters::in_memory());
        publish(&store, &[("someone-else", "Ada")]).await;
        store
            .put(ZOE, r#"{"name":"Zoë of old","version":2}"#)
            .await
            .unwrap();
        let greeter = greeter(store.clone(), Duration::from_secs(60));
        for _ in 0..2 {
            let response = handle(&greeter, request(JSON)).await;
            assert_eq!(body(&response), r#"{"message":"Hello, Zoë of old"}"#);
        }
        assert_eq!(
            store.calls.get("GetParameter"),
            1,
            "kept for the cache's time"
        );
    }

    #[tokio::test]
    async fn a_removed_user_is_greeted_from_the_claims() {
        let store = Arc::new(FileParameters::in_memory());
        publish(&store, &[(ZOE_SUB, "Zoë")]).await;
        // The removal, as the writer merges it: a tombstone, no name.
        let paths = NamesPaths::new(&ParameterPrefix::parse("onboard").unwrap());
        let root = paths.leaf(LeafId::ROOT);
        let mut values = store.get_many(std::slice::from_ref(&root)).await.unwrap();
        let (tier, mut leaf) = read_value(&values.remove(&root).unwrap()).unwrap();
        let tombstone = Entry {
            revision: Revision {
                version: Version::new(2).unwrap(),
                removed: true,
            },
            name: None,
        };
        leaf.merge(UserKey::of(&UserId::parse(ZOE_SUB).unwrap()), tombstone);
        store
            .put_tiered(&root, &value_of(&leaf, tier), tier)
            .await
            .unwrap();
        let response = handle(&greeter(store, Duration::from_secs(60)), request(JSON)).await;
        assert_eq!(body(&response), r#"{"message":"Hello, Zoë Martin"}"#);
    }

    #[tokio::test]
    async fn a_browser_gets_an_html_page() {
        let store = Arc::new(FileParameters::in_memory());
        let response = handle(&greeter(store, Duration::from_secs(60)), request(HTML)).await;
        assert_eq!(content_type(&response), "text/html; charset=utf-8");
        assert!(body(&response).contains("<h1>Hello, Zoë Martin</h1>"));
        assert!(
            response
                .headers
                .contains_key(header::CONTENT_SECURITY_POLICY)
        );
    }

    #[tokio::test]
    async fn every_user_supplied_value_is_escaped_in_html() {
        let store = Arc::new(FileParameters::in_memory());
        let response = handle(&greeter(store, Duration::from_secs(60)), request(UNSAFE)).await;
        let page = body(&response);
        assert!(
            page.contains(
                "Hello, Zoë &lt;b&gt;bold&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
            ),
            "{page}"
        );
        assert!(!page.contains("<script>") && !page.contains("<b>"));
    }

    #[tokio::test]
    async fn a_request_without_claims_is_unauthorized() {
        let store = Arc::new(FileParameters::in_memory());
        let response = handle(&greeter(store, Duration::from_secs(60)), request(NO_CLAIMS)).await;
        assert_eq!(response.status_code, 401);
        assert_eq!(body(&response), r#"{"message":"Unauthorized"}"#);
    }

    fn header(response: &ApiGatewayProxyResponse, name: header::HeaderName) -> &str {
        response
            .headers
            .get(&name)
            .map_or("", |v| v.to_str().unwrap())
    }

    #[tokio::test]
    async fn every_answer_carries_the_allowed_origin_401_included() {
        let store = Arc::new(FileParameters::in_memory());
        let allowing = greeter(store, Duration::from_secs(60))
            .allowing_origin("https://app.example.org")
            .unwrap();
        for fixture in [JSON, NO_CLAIMS, PAGE] {
            let response = handle(&allowing, request(fixture)).await;
            assert_eq!(
                header(&response, header::ACCESS_CONTROL_ALLOW_ORIGIN),
                "https://app.example.org"
            );
        }
        let store = Arc::new(FileParameters::in_memory());
        let without = handle(&greeter(store, Duration::from_secs(60)), request(JSON)).await;
        assert!(
            without
                .headers
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none()
        );
    }

    #[test]
    fn json_wins_unless_html_is_preferred() {
        let accept = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_static(value));
            prefers_html(&headers)
        };
        assert!(accept("text/html,application/xhtml+xml,*/*;q=0.8"));
        assert!(!accept("application/json"));
        assert!(!accept("*/*"));
        assert!(!accept("text/html;q=0.5, application/json"));
        assert!(accept("application/json;q=0.5, text/html"));
        assert!(!prefers_html(&HeaderMap::new()));
    }
}
