//! The stand-in's own session, as the hosted UI keeps one: after a
//! sign-in, a cookie on the stand-in's origin lets a later authorization
//! request return to the page at once with a new code (no form), which is
//! how the page keeps a person signed in across a reload without keeping
//! any token itself. `GET /logout` ends the session; `POST /oauth2/revoke`
//! revokes a refresh token (the stand-in's own record: the emulator has no
//! `RevokeToken`), and with it every session that holds it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::codes::random_token;
use super::pages::refused;
use super::{HostedUi, lock};

/// The session cookie's name.
const COOKIE: &str = "onboard_hosted_ui";

/// Sessions by id, each holding the refresh token of its sign-in.
#[derive(Debug, Default)]
pub(super) struct Sessions {
    by_id: Mutex<HashMap<String, String>>,
    revoked: Mutex<HashSet<String>>,
}

impl Sessions {
    /// Starts a session for a sign-in; the `Set-Cookie` that carries it.
    pub(super) fn start(&self, refresh_token: &str) -> HeaderValue {
        let id = random_token(24);
        lock(&self.by_id).insert(id.clone(), refresh_token.to_owned());
        HeaderValue::from_str(&format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax"))
            .unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The refresh token of the request's session, if it has a live one.
    pub(super) fn refresh_token(&self, headers: &HeaderMap) -> Option<String> {
        let id = session_id(headers)?;
        let token = lock(&self.by_id).get(&id).cloned()?;
        (!lock(&self.revoked).contains(&token)).then_some(token)
    }

    /// Ends the request's session; the `Set-Cookie` that clears it.
    pub(super) fn end(&self, headers: &HeaderMap) -> HeaderValue {
        if let Some(id) = session_id(headers) {
            lock(&self.by_id).remove(&id);
        }
        HeaderValue::from_static("onboard_hosted_ui=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
    }

    /// Revokes a refresh token, and ends every session that holds it.
    pub(super) fn revoke(&self, refresh_token: &str) {
        lock(&self.revoked).insert(refresh_token.to_owned());
        lock(&self.by_id).retain(|_, token| token != refresh_token);
    }
}

/// `GET /logout?client_id=…&logout_uri=…`: the session ended, then back to
/// the logout URL, which must be the client's (the page).
pub(super) async fn logout(
    State(ui): State<Arc<HostedUi>>,
    headers: HeaderMap,
    Query(request): Query<HashMap<String, String>>,
) -> Response {
    let client = request.get("client_id").map(String::as_str);
    let logout_uri = request.get("logout_uri").map(String::as_str);
    if client != Some(ui.pool.web_client_id.as_str()) {
        return refused("unknown client_id");
    }
    if logout_uri != Some(ui.page_url.as_str()) {
        return refused("the logout_uri is not one of the client's sign-out URLs");
    }
    let mut back = Redirect::to(&ui.page_url).into_response();
    back.headers_mut()
        .append(header::SET_COOKIE, ui.sessions.end(&headers));
    back
}

/// `POST /oauth2/revoke` (`token`, `client_id`): the refresh token revoked;
/// 200 whether or not it was known, as the hosted UI answers.
pub(super) async fn revoke(
    State(ui): State<Arc<HostedUi>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (status, body) = if form.get("client_id") != Some(&ui.pool.web_client_id) {
        (
            StatusCode::BAD_REQUEST,
            json!({ "error": "invalid_client" }).to_string(),
        )
    } else if let Some(token) = form.get("token").filter(|t| !t.is_empty()) {
        ui.sessions.revoke(token);
        (StatusCode::OK, String::new())
    } else {
        (
            StatusCode::BAD_REQUEST,
            json!({ "error": "invalid_request" }).to_string(),
        )
    };
    let mut response = (status, body).into_response();
    if let Ok(origin) = HeaderValue::from_str(&ui.page_origin) {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    response
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .find_map(|cookie| {
            let (name, value) = cookie.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty()).then(|| value.to_owned())
        })
}
