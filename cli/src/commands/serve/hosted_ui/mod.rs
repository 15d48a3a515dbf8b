//! A local stand-in for the Cognito hosted UI, served by `onboard serve` on
//! an emulator (which has no hosted UI), on an origin of its own as the real
//! one is. It serves the endpoints the greeting page uses, the way the
//! hosted UI answers them:
//!
//! - `GET /signup`, `GET /login`: the authorization request (`client_id`,
//!   `response_type=code`, `redirect_uri`, `state`, `code_challenge` with
//!   `code_challenge_method=S256`, `scope` within the client's) checked,
//!   then a form. A request for
//!   another client or another callback is refused on the page, never
//!   redirected.
//! - `GET /oauth2/authorize`: the same request, sent on to `/login`.
//! - `POST /signup`: the pool's `SignUp`; the confirmation code, which the
//!   real hosted UI emails, is printed on `onboard serve`'s output (with the
//!   user's id, never the email); then the code form.
//! - `POST /confirmUser`: the code checked, the pool's `ConfirmSignUp`, the
//!   real post-confirmation handler (an emulator calls no trigger), then the
//!   sign-in (`InitiateAuth`) and the redirect back to the page with an
//!   authorization code and the state.
//! - `POST /login`: `InitiateAuth`, then the same redirect. (Cognito's own
//!   sign-in is not one of the client's flows, which allow none but the
//!   refresh; an emulator enforces no flow, so the stand-in signs in
//!   through the API in its place.)
//! - `POST /oauth2/token`: the code traded once, within five minutes, for
//!   the pool's tokens, by the client and callback it was issued to, with
//!   the PKCE verifier whose SHA-256 is the challenge.
//! - A sign-in starts the stand-in's session (a cookie on its origin): an
//!   authorization request that comes with it goes straight back to the
//!   page with a new code, as the hosted UI's does ([`session`]).
//! - `GET /logout`: the session ended, back to the page (the client's
//!   logout URL); `POST /oauth2/revoke`: a refresh token revoked.
//! - No dead ends ([`recovery`]): `POST /resendCode` (a new code), a
//!   sign-in of a sign-up left at the code step (a new code, then the code
//!   form), `GET`/`POST /forgotPassword` and `POST /confirmForgotPassword`
//!   (a code, then a new password); the pool's password rules on every
//!   form that asks for one; every message in onboard's words ([`words`]).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_sdk_cognitoidentityprovider as cognito;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use onboard_shared::aws::DynamoUserStore;
use serde_json::json;

use crate::commands::signup::{attribute, cognito_message, confirmed};
use crate::stack::{self, Names, UserPool};
use codes::{Grants, TokenForm, form_urlencoded};
use forms::{Authorize, ConfirmForm, PendingSignUp, SignUpForm};
use pages::{confirm_body, page, refused, signup_body};

mod codes;
mod forms;
mod pages;
mod recovery;
mod session;
mod sign_in;
mod words;

/// Wrong confirmation codes before a sign-up has to start again.
const CODE_ATTEMPTS: u32 = 5;

/// The stand-in's state: the pool it fronts, and the sign-ups and codes in
/// flight.
pub struct HostedUi {
    /// The table the post-confirmation handler writes to, and the region
    /// its events name.
    users: DynamoUserStore,
    region: String,
    cognito: cognito::Client,
    pool: UserPool,
    /// The one callback this stand-in returns to: the page `onboard serve`
    /// serves.
    page_url: String,
    page_origin: String,
    pending: Mutex<HashMap<String, PendingSignUp>>,
    grants: Grants,
    sessions: session::Sessions,
    resets: Mutex<HashMap<String, recovery::PendingReset>>,
    /// The pool's password rules in words, read once.
    password_rules: tokio::sync::OnceCell<String>,
}

impl std::fmt::Debug for HostedUi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostedUi")
            .field("pool", &self.pool)
            .field("page_url", &self.page_url)
            .finish_non_exhaustive()
    }
}

impl HostedUi {
    /// The stand-in for `pool`, returning to the page at `page_url`.
    pub fn new(sdk: &SdkConfig, names: &Names, pool: UserPool, page_url: String) -> Self {
        let page_origin = page_url.trim_end_matches('/').to_owned();
        Self {
            cognito: cognito::Client::new(sdk),
            users: stack::users(sdk, names),
            region: stack::region(sdk),
            pool,
            page_url,
            page_origin,
            pending: Mutex::default(),
            grants: Grants::default(),
            sessions: session::Sessions::default(),
            resets: Mutex::default(),
            password_rules: tokio::sync::OnceCell::new(),
        }
    }

    /// Why an authorization request is refused, if it is.
    fn check(&self, request: &Authorize) -> Result<(), &'static str> {
        if request.client_id != self.pool.web_client_id {
            return Err("unknown client_id");
        }
        if request.redirect_uri != self.page_url {
            return Err("redirect_mismatch");
        }
        if request.response_type != "code" {
            return Err("unsupported response_type: only the code flow is served");
        }
        if request.code_challenge_method != "S256" || request.code_challenge.len() != 43 {
            return Err("a PKCE code_challenge with code_challenge_method=S256 is required");
        }
        // The scopes the client allows, as the hosted UI grants them: never
        // aws.cognito.signin.user.admin (the stack module says why).
        if request
            .scope
            .split_whitespace()
            .any(|scope| !stack::WEB_CLIENT_SCOPES.contains(&scope))
        {
            return Err("invalid_scope: the client allows only openid, email and profile");
        }
        Ok(())
    }
}

/// The stand-in's routes.
pub fn app(hosted_ui: Arc<HostedUi>) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/signup", get(signup_form).post(signup))
        .route("/login", get(sign_in::login_form).post(sign_in::login))
        .route("/oauth2/authorize", get(authorize))
        .route("/confirmUser", post(confirm))
        .route("/oauth2/token", post(token))
        .route("/oauth2/revoke", post(session::revoke))
        .route("/resendCode", post(recovery::resend_code))
        .route(
            "/forgotPassword",
            get(recovery::forgot_form).post(recovery::forgot),
        )
        .route("/confirmForgotPassword", post(recovery::confirm_forgot))
        .route("/logout", get(session::logout))
        .with_state(hosted_ui)
}

/// `GET /oauth2/authorize`, where OAuth clients start: the hosted UI sends
/// them on to its sign-in form with the same request.
async fn authorize(
    State(ui): State<Arc<HostedUi>>,
    headers: HeaderMap,
    Query(request): Query<Authorize>,
) -> Response {
    if let Some(answered) = ui.answered_at_once(&headers, &request).await {
        return answered;
    }
    Redirect::to(&format!("/login?{}", form_urlencoded(&request.pairs()))).into_response()
}

async fn signup_form(
    State(ui): State<Arc<HostedUi>>,
    Query(request): Query<Authorize>,
) -> Response {
    if let Err(reason) = ui.check(&request) {
        return refused(reason);
    }
    let rules = ui.password_rules().await;
    page(
        &ui.page_origin,
        "Sign up",
        &signup_body(&request, "", "", &rules, ""),
    )
}

async fn signup(State(ui): State<Arc<HostedUi>>, Form(form): Form<SignUpForm>) -> Response {
    if let Err(reason) = ui.check(&form.authorize) {
        return refused(reason);
    }
    let rules = ui.password_rules().await;
    let again = |error: &str| {
        page(
            &ui.page_origin,
            "Sign up",
            &signup_body(&form.authorize, &form.email, &form.name, &rules, error),
        )
    };
    let (email, name) = (form.email.trim(), form.name.trim());
    if email.is_empty() || name.is_empty() || form.password.is_empty() {
        return again("Email, name and password are all required.");
    }
    let attributes = match (attribute("email", email), attribute("name", name)) {
        (Ok(email), Ok(name)) => vec![email, name],
        _ => return again("Those attributes cannot be sent."),
    };
    let signed = ui
        .cognito
        .sign_up()
        .client_id(&ui.pool.web_client_id)
        .username(email)
        .password(&form.password)
        .set_user_attributes(Some(attributes))
        .send()
        .await;
    match signed {
        // The real hosted UI emails the code; here the person reads it where
        // `onboard serve` runs.
        Ok(signed) => {
            ui.await_code(email, &form.password, signed.user_sub, &form.authorize, "")
                .await
        }
        Err(err) => again(words::sign_up(words::code_of(&err))),
    }
}

async fn confirm(State(ui): State<Arc<HostedUi>>, Form(form): Form<ConfirmForm>) -> Response {
    let pending = match lock(&ui.pending).entry(form.session.clone()) {
        Entry::Vacant(_) => {
            return refused("this sign-up has expired or is unknown; start again");
        }
        Entry::Occupied(pending) if pending.get().code == form.code.trim() => pending.remove(),
        Entry::Occupied(mut pending) => {
            pending.get_mut().attempts += 1;
            if pending.get().attempts >= CODE_ATTEMPTS {
                pending.remove();
                return refused("too many wrong codes; start again");
            }
            return page(
                &ui.page_origin,
                "Confirm your account",
                &confirm_body(&form.session, words::WRONG_CODE),
            );
        }
    };
    let confirmed_in_pool = ui
        .cognito
        .confirm_sign_up()
        .client_id(&ui.pool.web_client_id)
        .username(&pending.username)
        .confirmation_code(&pending.code)
        .send()
        .await;
    if let Err(err) = confirmed_in_pool {
        return refused(&cognito_message(&err));
    }
    let region = ui.region.clone();
    match confirmed(&ui.users, region, &ui.cognito, &ui.pool, &pending.username).await {
        Ok((sub, outcome)) => {
            tracing::info!(user_id = %sub, outcome = ?outcome, "hosted UI: confirmed a sign-up");
        }
        Err(err) => {
            // Cognito fails the confirmation when its trigger fails.
            tracing::error!(user_id = %pending.sub, error = %onboard_shared::error::error_chain(&err), "hosted UI: the post-confirmation trigger failed");
            return refused("PostConfirmation failed: the trigger could not record you");
        }
    }
    match ui
        .sign_in(&pending.username, &pending.password, &pending.authorize)
        .await
    {
        Ok(back) => back,
        Err(reason) => refused(&reason.to_string()),
    }
}

async fn token(
    State(ui): State<Arc<HostedUi>>,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let redeemed = match form {
        Ok(Form(form)) => ui.grants.redeem(&form),
        Err(_) => Err((
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        )),
    };
    let (status, body) = match redeemed {
        Ok(tokens) => (StatusCode::OK, tokens),
        Err((error, description)) => (
            StatusCode::BAD_REQUEST,
            json!({ "error": error, "error_description": description }),
        ),
    };
    let mut response = (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response();
    // The page trades its code from its own origin, as with Cognito's.
    if let Ok(origin) = HeaderValue::from_str(&ui.page_origin) {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    response
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
