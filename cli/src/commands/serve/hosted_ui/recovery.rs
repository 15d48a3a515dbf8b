//! The stand-in's ways out of a stuck sign-in, as the hosted UI has them:
//! a new confirmation code, a sign-up left at the code step finished from
//! the sign-in form, and a forgotten password (a code, then a new
//! password). Codes are printed where `onboard serve` runs, with the user's
//! id, never the email. An unknown email gets the same answers as a known
//! one, so the flow tells no one whether an account exists.

use std::collections::hash_map::Entry;
use std::sync::Arc;

use aws_sdk_cognitoidentityprovider as cognito;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::codes::{confirmation_code, random_token};
use super::forms::{Authorize, PendingSignUp};
use super::pages::{confirm_body, forgot_body, page, refused, reset_body};
use super::{CODE_ATTEMPTS, HostedUi, lock, words};

/// A password reset in flight.
pub(super) struct PendingReset {
    /// `None` for an email with no account: every code is then wrong.
    username: Option<String>,
    code: String,
    attempts: u32,
    authorize: Authorize,
}

impl HostedUi {
    /// The pool's password rules, in words, read from the pool once.
    pub(super) async fn password_rules(&self) -> String {
        self.password_rules
            .get_or_init(|| async {
                let described = self
                    .cognito
                    .describe_user_pool()
                    .user_pool_id(&self.pool.pool_id)
                    .send()
                    .await
                    .ok();
                let policy = described
                    .and_then(|d| d.user_pool)
                    .and_then(|p| p.policies)
                    .and_then(|p| p.password_policy);
                match policy {
                    Some(policy) => rules_in_words(&policy),
                    None => "Use a long password.".to_owned(),
                }
            })
            .await
            .clone()
    }

    /// A new code for a sign-up, printed; then the code form.
    pub(super) async fn await_code(
        &self,
        username: &str,
        password: &str,
        sub: String,
        authorize: &Authorize,
        note: &str,
    ) -> Response {
        let code = confirmation_code();
        crate::outln!("hosted UI: confirmation code for user {sub}: {code}");
        let session = random_token(24);
        lock(&self.pending).insert(
            session.clone(),
            PendingSignUp {
                username: username.to_owned(),
                password: password.to_owned(),
                sub,
                code,
                attempts: 0,
                authorize: authorize.clone(),
            },
        );
        page(
            &self.page_origin,
            "Confirm your account",
            &confirm_body(&session, note),
        )
    }

    /// The user's id in the pool, for the printed code.
    pub(super) async fn sub_of(&self, username: &str) -> Option<String> {
        let user = self
            .cognito
            .admin_get_user()
            .user_pool_id(&self.pool.pool_id)
            .username(username)
            .send()
            .await
            .ok()?;
        user.user_attributes()
            .iter()
            .find(|a| a.name() == "sub")
            .and_then(|a| a.value().map(str::to_owned))
    }
}

/// The pool's password policy, as one sentence.
fn rules_in_words(policy: &cognito::types::PasswordPolicyType) -> String {
    let mut kinds = Vec::new();
    if policy.require_uppercase {
        kinds.push("an upper-case letter");
    }
    if policy.require_lowercase {
        kinds.push("a lower-case letter");
    }
    if policy.require_numbers {
        kinds.push("a number");
    }
    if policy.require_symbols {
        kinds.push("a symbol");
    }
    let length = policy.minimum_length.unwrap_or(8);
    match kinds.split_last() {
        None => format!("At least {length} characters."),
        Some((last, [])) => format!("At least {length} characters, with {last}."),
        Some((last, rest)) => format!(
            "At least {length} characters, with {} and {last}.",
            rest.join(", ")
        ),
    }
}

#[derive(Deserialize)]
pub(super) struct SessionForm {
    #[serde(default)]
    session: String,
}

/// `POST /resendCode`: a new code for the sign-up in flight.
pub(super) async fn resend_code(
    State(ui): State<Arc<HostedUi>>,
    Form(form): Form<SessionForm>,
) -> Response {
    let code = confirmation_code();
    let sub = match lock(&ui.pending).get_mut(&form.session) {
        Some(pending) => {
            pending.code = code.clone();
            pending.attempts = 0;
            pending.sub.clone()
        }
        None => return refused("this sign-up has expired or is unknown; start again"),
    };
    crate::outln!("hosted UI: confirmation code for user {sub}: {code}");
    page(
        &ui.page_origin,
        "Confirm your account",
        &confirm_body(&form.session, "We sent a new code."),
    )
}

/// `GET /forgotPassword`: the email form.
pub(super) async fn forgot_form(
    State(ui): State<Arc<HostedUi>>,
    Query(request): Query<Authorize>,
) -> Response {
    if let Err(reason) = ui.check(&request) {
        return refused(reason);
    }
    page(
        &ui.page_origin,
        "Forgot your password?",
        &forgot_body(&request, ""),
    )
}

#[derive(Deserialize)]
pub(super) struct ForgotForm {
    #[serde(flatten)]
    authorize: Authorize,
    #[serde(default)]
    email: String,
}

/// `POST /forgotPassword`: a code for a confirmed account's email (and the
/// same answer for any other email), then the new-password form.
pub(super) async fn forgot(
    State(ui): State<Arc<HostedUi>>,
    Form(form): Form<ForgotForm>,
) -> Response {
    if let Err(reason) = ui.check(&form.authorize) {
        return refused(reason);
    }
    let email = form.email.trim();
    if email.is_empty() {
        return page(
            &ui.page_origin,
            "Forgot your password?",
            &forgot_body(&form.authorize, "Enter the email of your account."),
        );
    }
    let code = confirmation_code();
    let username = match ui.sub_of(email).await {
        Some(sub) => {
            crate::outln!("hosted UI: password reset code for user {sub}: {code}");
            Some(email.to_owned())
        }
        None => None,
    };
    let session = random_token(24);
    lock(&ui.resets).insert(
        session.clone(),
        PendingReset {
            username,
            code,
            attempts: 0,
            authorize: form.authorize.clone(),
        },
    );
    let rules = ui.password_rules().await;
    page(
        &ui.page_origin,
        "Choose a new password",
        &reset_body(&session, &rules, words::CODE_SENT),
    )
}

#[derive(Deserialize)]
pub(super) struct ResetForm {
    #[serde(default)]
    session: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
}

/// `POST /confirmForgotPassword`: the code checked, the new password set,
/// the person signed in and sent back to the page.
pub(super) async fn confirm_forgot(
    State(ui): State<Arc<HostedUi>>,
    Form(form): Form<ResetForm>,
) -> Response {
    let rules = ui.password_rules().await;
    let again = |error: &str| {
        page(
            &ui.page_origin,
            "Choose a new password",
            &reset_body(&form.session, &rules, error),
        )
    };
    let (username, authorize) = match lock(&ui.resets).entry(form.session.clone()) {
        Entry::Vacant(_) => return refused("this reset has expired or is unknown; start again"),
        Entry::Occupied(mut reset) => {
            let right = reset.get().username.is_some() && reset.get().code == form.code.trim();
            if !right {
                reset.get_mut().attempts += 1;
                if reset.get().attempts >= CODE_ATTEMPTS {
                    reset.remove();
                    return refused("too many wrong codes; start again");
                }
                return again(words::WRONG_CODE);
            }
            let reset = reset.get();
            (
                reset.username.clone().unwrap_or_default(),
                reset.authorize.clone(),
            )
        }
    };
    let set = ui
        .cognito
        .admin_set_user_password()
        .user_pool_id(&ui.pool.pool_id)
        .username(&username)
        .password(&form.password)
        .permanent(true)
        .send()
        .await;
    if let Err(err) = set {
        return again(words::new_password(words::code_of(&err)));
    }
    lock(&ui.resets).remove(&form.session);
    match ui.sign_in(&username, &form.password, &authorize).await {
        Ok(back) => back,
        Err(reason) => refused(&reason.to_string()),
    }
}
