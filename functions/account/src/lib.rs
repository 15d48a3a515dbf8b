//! The account function: a signed-in user's own account, behind API
//! Gateway's Cognito authorizer.
//!
//! - `PATCH /me` with `{"name": "..."}` renames the caller ([`rename`]).
//! - `DELETE /me` erases the caller everywhere ([`erase`]).
//!
//! The caller is the token's `sub` (and `cognito:username` for the pool),
//! never anything in the body or the path. The table is the truth: each
//! change is one conditional write of the caller's row that raises its
//! version, and the stream carries it to the archive and the parameter
//! store; the pool is kept in step after it. `GET /me/data` is the
//! greeting's (it only reads).

mod erase;
mod lambda;
mod rename;
pub mod request;

pub use erase::{EraseError, Erasure, erase_everywhere};
pub use lambda::invoke;

use std::sync::Arc;

use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::http::{HeaderValue, Method, header};
use onboard_shared::api::{Caller, json_response, unauthorized};
use onboard_shared::error::PortError;
use onboard_shared::ports::{AccountStore, Directory};
use onboard_shared::telemetry::metrics::{Counts, Metric};
use serde_json::json;

/// What the account function works on.
pub struct Account {
    table: Arc<dyn AccountStore>,
    directory: Arc<dyn Directory>,
    /// The browser origin allowed to read the answers (CORS), if any.
    allowed_origin: Option<HeaderValue>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").finish_non_exhaustive()
    }
}

impl Account {
    pub fn new(table: Arc<dyn AccountStore>, directory: Arc<dyn Directory>) -> Self {
        Self {
            table,
            directory,
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
}

/// An `ALLOWED_ORIGIN` that cannot be a header value.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an origin")]
pub struct NotAnOrigin(
    String,
    #[source] aws_lambda_events::http::header::InvalidHeaderValue,
);

/// An answer, and what its metrics count.
#[derive(Debug)]
pub struct Answered {
    pub response: ApiGatewayProxyResponse,
    pub counts: Counts,
}

/// Answers one API Gateway request.
pub async fn handle(account: &Account, request: ApiGatewayProxyRequest) -> ApiGatewayProxyResponse {
    answer(account, request).await.response
}

/// [`handle`], with what the invocation counts.
pub async fn answer(account: &Account, request: ApiGatewayProxyRequest) -> Answered {
    let mut counts = Counts::default();
    let mut response = match Caller::of(&request) {
        None => unauthorized(),
        Some(caller) => match request.http_method {
            Method::PATCH => rename::rename(account, &caller, &request, &mut counts).await,
            Method::DELETE => erase::erase(account, &caller, &mut counts).await,
            _ => {
                let mut response = json_response(405, json!({ "message": "Method Not Allowed" }));
                response
                    .headers
                    .insert(header::ALLOW, HeaderValue::from_static("PATCH, DELETE"));
                response
            }
        },
    };
    if !(200..300).contains(&response.status_code) {
        counts.add(Metric::Unanswered, 1);
    }
    if let Some(origin) = &account.allowed_origin {
        response
            .headers
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
    Answered { response, counts }
}

/// The answer to a store that failed: throttled or not, the caller may try
/// again; nothing was half written (each change is one conditional write).
fn unavailable(err: &PortError, counts: &mut Counts) -> ApiGatewayProxyResponse {
    if matches!(err, PortError::Throttled { .. }) {
        counts.add(Metric::Throttles, 1);
    }
    tracing::warn!(error = %err.chain(), "a store call failed");
    let mut response = json_response(
        503,
        json!({ "message": "The account cannot be changed right now; try again shortly" }),
    );
    response
        .headers
        .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    response
}

#[cfg(test)]
mod tests;
