//! `PATCH /me`: the caller's new name, written to their row first (one
//! conditional write over the version read, which raises it), then to the
//! pool's `name` attribute.
//!
//! Cognito has no conditional update, so the pool converges to the table:
//! after each write of the pool, the row is read again (strongly
//! consistent) and, if another rename came in between, the pool is written
//! again with the row's name. Of two renames at once, the last to write the
//! pool reads the final row, so the pool ends with the table's name; one
//! that failed half way is set right by `onboard reconcile --fix`.

use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::http::{HeaderValue, header};
use chrono::Utc;
use onboard_shared::api::{Caller, json_response};
use onboard_shared::domain::{Refused, Renamed, User};
use onboard_shared::ports::{Conditional, Expected, Gone};
use onboard_shared::telemetry::metrics::{Counts, Metric};
use serde_json::json;

use crate::request::rename_request;
use crate::{Account, unavailable};

/// How often a rename that lost to another write of the row reads it again.
const ATTEMPTS: usize = 3;

pub(crate) async fn rename(
    account: &Account,
    caller: &Caller,
    request: &ApiGatewayProxyRequest,
    counts: &mut Counts,
) -> ApiGatewayProxyResponse {
    let name = match rename_request(request.body.as_deref(), request.is_base64_encoded) {
        Ok(name) => name,
        Err(bad) => {
            return json_response(
                400,
                json!({ "message": "Invalid request body", "errors": bad.errors }),
            );
        }
    };
    let user = &caller.user;
    for _ in 0..ATTEMPTS {
        let row = match account.table.get(user).await {
            Ok(Some(row)) => row,
            Ok(None) => {
                return json_response(
                    404,
                    json!({ "message": "This account has no record yet; try again shortly" }),
                );
            }
            Err(err) => return unavailable(&err, counts),
        };
        let renamed = match row.renamed(&name, Utc::now()) {
            Ok(Renamed::Unchanged) => {
                tracing::info!(user_id = %user, version = %row.version, "rename to the same name");
                return named(&row, false);
            }
            Ok(Renamed::To(renamed)) => renamed,
            Err(Refused::Erased) => return erased(),
            Err(Refused::TooManyRenames { retry_after }) => {
                let mut response = json_response(
                    429,
                    json!({ "message": format!(
                        "Too many renames; try again in {} seconds", retry_after.as_secs()
                    ) }),
                );
                if let Ok(value) = HeaderValue::from_str(&retry_after.as_secs().to_string()) {
                    response.headers.insert(header::RETRY_AFTER, value);
                }
                return response;
            }
        };
        match account
            .table
            .replace(&renamed, Expected::Version(row.version))
            .await
        {
            Ok(Conditional::Written) => {
                tracing::info!(user_id = %user, version = %renamed.version, "renamed");
                counts.add(Metric::AccountsChanged, 1);
                converge_directory(account, caller, &renamed).await;
                return named(&renamed, true);
            }
            Ok(Conditional::Conflict) => {
                tracing::debug!(user_id = %user, "the row changed while renaming; reading it again");
            }
            Err(err) => return unavailable(&err, counts),
        }
    }
    json_response(
        409,
        json!({ "message": "The account changed at the same time; try again" }),
    )
}

/// Brings the pool's `name` to the row's, reading the row again after each
/// write until they agree (or the user is gone). A failure is logged and
/// left to `onboard reconcile --fix`: the rename itself is done.
async fn converge_directory(account: &Account, caller: &Caller, written: &User) {
    let mut name = written.name.clone();
    for _ in 0..ATTEMPTS {
        let Some(wanted) = name else { return };
        match account.directory.set_name(&caller.username, &wanted).await {
            Ok(Gone::Yes) => return,
            Ok(Gone::No) => {}
            Err(err) => {
                tracing::warn!(user_id = %caller.user, error = %err.chain(), "the pool's name is behind the table's; reconcile --fix sets it");
                return;
            }
        }
        match account.table.get(&caller.user).await {
            Ok(Some(row)) if !row.is_erased() && row.name.as_deref() != Some(wanted.as_str()) => {
                name = row.name;
            }
            Ok(_) => return,
            Err(err) => {
                tracing::warn!(user_id = %caller.user, error = %err.chain(), "could not check the pool's name against the table");
                return;
            }
        }
    }
}

/// The answer to a rename: the name now held and its version.
fn named(user: &User, changed: bool) -> ApiGatewayProxyResponse {
    json_response(
        200,
        json!({ "name": user.name, "version": user.version.get(), "changed": changed }),
    )
}

/// The answer to any change of an erased account.
pub(crate) fn erased() -> ApiGatewayProxyResponse {
    json_response(410, json!({ "message": "This account was deleted" }))
}
