//! What the page sends the stand-in: the authorization request, and the
//! sign-up, sign-in and code forms.

use serde::Deserialize;

/// An authorization request, as the page sends it.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Authorize {
    #[serde(default)]
    pub(super) client_id: String,
    #[serde(default)]
    pub(super) response_type: String,
    #[serde(default)]
    pub(super) redirect_uri: String,
    #[serde(default)]
    pub(super) state: String,
    #[serde(default)]
    pub(super) code_challenge: String,
    #[serde(default)]
    pub(super) code_challenge_method: String,
    #[serde(default)]
    pub(super) scope: String,
}

impl Authorize {
    /// The request's parameters, as the page sent them.
    pub(super) fn pairs(&self) -> [(&'static str, &String); 7] {
        [
            ("client_id", &self.client_id),
            ("response_type", &self.response_type),
            ("redirect_uri", &self.redirect_uri),
            ("state", &self.state),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("scope", &self.scope),
        ]
    }
}

pub(super) struct PendingSignUp {
    pub(super) username: String,
    pub(super) password: String,
    pub(super) sub: String,
    pub(super) code: String,
    pub(super) attempts: u32,
    pub(super) authorize: Authorize,
}

// The forms hold a password: no Debug, so that none is ever printed.
#[derive(Deserialize)]
pub(super) struct SignUpForm {
    #[serde(flatten)]
    pub(super) authorize: Authorize,
    #[serde(default)]
    pub(super) email: String,
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) password: String,
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(flatten)]
    pub(super) authorize: Authorize,
    #[serde(default)]
    pub(super) email: String,
    #[serde(default)]
    pub(super) password: String,
}

#[derive(Deserialize)]
pub(super) struct ConfirmForm {
    #[serde(default)]
    pub(super) session: String,
    #[serde(default)]
    pub(super) code: String,
}
