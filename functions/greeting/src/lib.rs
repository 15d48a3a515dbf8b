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

use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::http::{HeaderValue, Method, header};
use onboard_shared::api::json_response;
use onboard_shared::domain::UserId;
use onboard_shared::error::PortError;
use onboard_shared::names::{Entry, NamesReader};
use onboard_shared::ports::{ArchiveReader, NamesStore, ParameterStore, UserReader};
use onboard_shared::published::ParameterPrefix;
use onboard_shared::telemetry::metrics::{Counts, Metric};
use serde_json::json;

mod hello;
mod my_data;
mod sign_in;
pub use sign_in::sign_in_page;

pub struct Greeter {
    names: NamesReader,
    /// The users' rows, read for a caller ahead of the published names and
    /// for `GET /me/data`.
    rows: Option<Arc<dyn UserReader>>,
    /// The archive, read for `GET /me/data`.
    archive: Option<Arc<dyn ArchiveReader>>,
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
            rows: None,
            archive: None,
            allowed_origin: None,
        }
    }

    /// Reads the users' rows and the archive too: a greeting never older
    /// than the version the caller has seen, and `GET /me/data`.
    pub fn reading_accounts(
        mut self,
        rows: Arc<dyn UserReader>,
        archive: Arc<dyn ArchiveReader>,
    ) -> Self {
        self.rows = Some(rows);
        self.archive = Some(archive);
        self
    }

    /// Lets pages of this origin (`*` for any) read the answers. An origin
    /// that cannot be a header value is refused.
    pub fn allowing_origin(mut self, origin: &str) -> Result<Self, NotAnOrigin> {
        let origin = HeaderValue::from_str(origin.trim())
            .map_err(|source| NotAnOrigin(origin.to_owned(), source))?;
        self.allowed_origin = Some(origin);
        Ok(self)
    }

    /// The published entry (name and version), from the cache or the
    /// parameter store. `None` when there is none (yet) or the store cannot
    /// be read now (`Throttled` when it was throttled, for the metrics).
    async fn published_entry(&self, user: &UserId) -> Result<Option<Entry>, Throttled> {
        match self.names.entry(user).await {
            Ok(entry) => Ok(entry),
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

/// A name as the greeting shows it: every control, line-separator and
/// bidirectional-formatting character (which could reorder the text
/// around it) replaced by U+FFFD. Names that reach the pipeline from
/// Cognito were never checked against the rename schema.
pub fn shown(name: &str) -> String {
    name.chars()
        .map(|c| {
            let formatting = matches!(
                c,
                '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
                    | '\u{2028}' | '\u{2029}'
            );
            if c.is_control() || formatting { '\u{fffd}' } else { c }
        })
        .collect()
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
    } else if request.resource.as_deref() == Some("/me/data") {
        my_data::export(greeter, &request).await
    } else {
        let (response, was_throttled) = hello::greet(greeter, &request).await;
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

#[cfg(test)]
mod tests;
