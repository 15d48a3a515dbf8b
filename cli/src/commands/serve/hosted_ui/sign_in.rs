//! Signing in at the stand-in: the form, Cognito's `InitiateAuth`, the
//! way back to the page with a code, and the session that lets a later
//! authorization request return at once ([`super::session`]).

use std::sync::Arc;

use aws_sdk_cognitoidentityprovider as cognito;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::codes::form_urlencoded;
use super::forms::{Authorize, LoginForm};
use super::pages::{login_body, page, refused};
use super::{HostedUi, words};

impl HostedUi {
    /// Signs the user in and sends the browser back to the page with a code.
    pub(super) async fn sign_in(
        &self,
        username: &str,
        password: &str,
        authorize: &Authorize,
    ) -> Result<Response, SignInRefused> {
        let auth = self
            .cognito
            .initiate_auth()
            .client_id(&self.pool.web_client_id)
            .auth_flow(cognito::types::AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .map_err(|err| match words::code_of(&err) {
                Some("UserNotConfirmedException") => SignInRefused::NotConfirmed,
                code => SignInRefused::Cognito(words::sign_in(code)),
            })?;
        let result = auth
            .authentication_result
            .ok_or(SignInRefused::OtherChallenge)?;
        let refresh_token = result.refresh_token.clone().unwrap_or_default();
        let mut back = self.back_with_code(authorize, &result, &refresh_token);
        back.headers_mut()
            .append(header::SET_COOKIE, self.sessions.start(&refresh_token));
        Ok(back)
    }

    /// The way back to the page with a new code for these tokens.
    fn back_with_code(
        &self,
        authorize: &Authorize,
        result: &cognito::types::AuthenticationResultType,
        refresh_token: &str,
    ) -> Response {
        let tokens = json!({
            "id_token": result.id_token,
            "access_token": result.access_token,
            "refresh_token": refresh_token,
            "expires_in": result.expires_in,
            "token_type": "Bearer",
        });
        let code = self.grants.issue(authorize, tokens);
        let back = format!(
            "{}?{}",
            authorize.redirect_uri,
            form_urlencoded(&[("code", &code), ("state", &authorize.state)])
        );
        Redirect::to(&back).into_response()
    }

    /// What an authorization request gets before any form: refused when it
    /// is not the page's, or straight back to the page while the session
    /// lasts; `None` when the form is next.
    pub(super) async fn answered_at_once(
        &self,
        headers: &HeaderMap,
        request: &Authorize,
    ) -> Option<Response> {
        if let Err(reason) = self.check(request) {
            return Some(refused(reason));
        }
        self.silently(headers, request).await
    }

    /// With a live session, straight back to the page with a new code (the
    /// session's refresh token traded for new tokens); `None` without one.
    async fn silently(&self, headers: &HeaderMap, authorize: &Authorize) -> Option<Response> {
        let refresh_token = self.sessions.refresh_token(headers)?;
        let refreshed = self
            .cognito
            .initiate_auth()
            .client_id(&self.pool.web_client_id)
            .auth_flow(cognito::types::AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", &refresh_token)
            .send()
            .await
            .ok()?;
        let result = refreshed.authentication_result?;
        Some(self.back_with_code(authorize, &result, &refresh_token))
    }
}

/// Why the user pool would not sign a person in, as the page says it.
#[derive(Debug, thiserror::Error)]
pub(super) enum SignInRefused {
    /// Cognito refused it, in onboard's words (a wrong password and an
    /// unknown user alike).
    #[error("{0}")]
    Cognito(&'static str),
    /// The sign-up was left at the code step.
    #[error("This account is not confirmed yet.")]
    NotConfirmed,
    #[error("the user pool asked for another challenge, which this stand-in does not serve")]
    OtherChallenge,
}

pub(super) async fn login_form(
    State(ui): State<Arc<HostedUi>>,
    headers: HeaderMap,
    Query(request): Query<Authorize>,
) -> Response {
    if let Some(answered) = ui.answered_at_once(&headers, &request).await {
        return answered;
    }
    page(&ui.page_origin, "Sign in", &login_body(&request, "", ""))
}

pub(super) async fn login(
    State(ui): State<Arc<HostedUi>>,
    Form(form): Form<LoginForm>,
) -> Response {
    if let Err(reason) = ui.check(&form.authorize) {
        return refused(reason);
    }
    let email = form.email.trim();
    match ui.sign_in(email, &form.password, &form.authorize).await {
        Ok(back) => back,
        // A sign-up left at the code step: finished here, with a new code.
        Err(SignInRefused::NotConfirmed) => {
            let sub = ui.sub_of(email).await.unwrap_or_default();
            ui.await_code(
                email,
                &form.password,
                sub,
                &form.authorize,
                "This account is not confirmed yet. We sent a new code.",
            )
            .await
        }
        Err(reason) => page(
            &ui.page_origin,
            "Sign in",
            &login_body(&form.authorize, &form.email, &reason.to_string()),
        ),
    }
}
