//! `GET /me/data`: everything onboard holds about the caller, as one JSON
//! document to download (GDPR Art. 15 and 20): the table's row, the
//! archived object, and the caller's own entry in the published names
//! (never another user's, though the parameter holds others), each with
//! when it was last written. Every read is of the caller's own key, taken
//! from the token.

use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::http::{HeaderValue, header};
use chrono::{SecondsFormat, Utc};
use onboard_shared::api::{Caller, json_response, unauthorized};
use onboard_shared::error::PortError;
use serde_json::{Value, json};

use crate::Greeter;

pub(crate) async fn export(
    greeter: &Greeter,
    request: &ApiGatewayProxyRequest,
) -> ApiGatewayProxyResponse {
    let Some(caller) = Caller::of(request) else {
        return unauthorized();
    };
    let (Some(rows), Some(archive)) = (&greeter.rows, &greeter.archive) else {
        return json_response(404, json!({ "message": "Not Found" }));
    };
    let user = &caller.user;
    let row = match rows.get(user).await {
        Ok(row) => row,
        Err(err) => return unavailable(&err),
    };
    if row.as_ref().is_some_and(|row| row.is_erased()) {
        return json_response(410, json!({ "message": "This account was deleted" }));
    }
    let archived = match archive.read(user).await {
        Ok(archived) => archived,
        Err(err) => return unavailable(&err),
    };
    let held = match greeter.names.held(user).await {
        Ok(held) => held,
        Err(err) => return unavailable(&err),
    };
    let stamp = |at: chrono::DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let table = row.map(|row| {
        let written_at = row.updated_at.unwrap_or(row.created_at);
        json!({ "row": row, "written_at": stamp(written_at) })
    });
    let archive = archived.map(|object| {
        // The object is onboard's own JSON; anything else is shown as text.
        let body = serde_json::from_slice::<Value>(&object.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&object.body).into_owned()));
        json!({ "object": body, "written_at": object.last_modified.map(stamp) })
    });
    let published = held.map(|held| {
        json!({
            "parameter": held.parameter,
            "name": held.entry.name,
            "version": held.entry.revision.version.get(),
            "removed": held.entry.revision.removed,
            "written_at": held.written_at.map(stamp),
        })
    });
    tracing::info!(user_id = %user, "exported the user's data");
    let document = json!({
        "user_id": user.as_str(),
        "exported_at": stamp(Utc::now()),
        "table": table,
        "archive": archive,
        "published": published,
    });
    let mut response = json_response(200, document);
    response.headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"onboard-my-data.json\""),
    );
    response
}

fn unavailable(err: &PortError) -> ApiGatewayProxyResponse {
    tracing::warn!(error = %err.chain(), "could not read the user's data");
    let mut response = json_response(
        503,
        json!({ "message": "Your data cannot be read right now; try again shortly" }),
    );
    response
        .headers
        .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    response
}
