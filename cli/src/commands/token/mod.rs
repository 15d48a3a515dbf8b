//! `onboard token`: a user's ID token, from their email and password, with
//! the stack's CLI app client and the administrators' sign-in
//! (`AdminInitiateAuth`, `ADMIN_USER_PASSWORD_AUTH`): it takes the caller's
//! IAM credentials (`cognito-idp:AdminInitiateAuth` on the pool), so the
//! tokens, which Cognito lets change the user's own attributes, are only
//! ever in the hands of someone who could change them anyway.
//!
//! A user an administrator created must choose a new password at their
//! first sign-in: Cognito answers with the `NEW_PASSWORD_REQUIRED`
//! challenge, which is answered with the new password. Any other challenge
//! (a second factor) is refused with its name: the hosted UI answers those.

pub mod command;

use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{AuthFlowType, ChallengeNameType};

use crate::commands::signup::cognito_message;
use crate::stack::{StackError, UserPool};

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Stack(#[from] StackError),
    /// Cognito refused the sign-in, with its own words (a wrong password,
    /// an unknown or unconfirmed user; Cognito never repeats the email).
    #[error("the user pool refused the sign-in: {0}")]
    Refused(String),
    /// Cognito refused the new password.
    #[error("the user pool refused the new password: {0}")]
    NewPasswordRefused(String),
    #[error(
        "the user must choose a new password at their first sign-in: give it with --new-password"
    )]
    NewPasswordNeeded,
    #[error(
        "the user pool asks for {0}, which `onboard token` does not answer: sign in through the hosted UI"
    )]
    Unanswered(String),
    #[error("the user pool answered without tokens")]
    NoToken,
}

/// Signs the user in and returns their ID token. `new_password` is asked
/// for only when Cognito requires one.
pub async fn id_token(
    client: &cognito::Client,
    pool: &UserPool,
    email: &str,
    password: &str,
    new_password: impl FnOnce() -> Option<String>,
) -> Result<String, TokenError> {
    let signed_in = client
        .admin_initiate_auth()
        .user_pool_id(&pool.pool_id)
        .client_id(&pool.cli_client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", email)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .map_err(|err| TokenError::Refused(cognito_message(&err)))?;
    if let Some(result) = signed_in.authentication_result() {
        return id_token_of(result);
    }
    match signed_in.challenge_name() {
        Some(ChallengeNameType::NewPasswordRequired) => {
            let new_password = new_password().ok_or(TokenError::NewPasswordNeeded)?;
            let username = signed_in
                .challenge_parameters()
                .and_then(|p| p.get("USER_ID_FOR_SRP").or_else(|| p.get("USERNAME")))
                .map_or(email, String::as_str);
            let answered = client
                .admin_respond_to_auth_challenge()
                .user_pool_id(&pool.pool_id)
                .client_id(&pool.cli_client_id)
                .challenge_name(ChallengeNameType::NewPasswordRequired)
                .set_session(signed_in.session().map(str::to_owned))
                .challenge_responses("USERNAME", username)
                .challenge_responses("NEW_PASSWORD", new_password)
                .send()
                .await
                .map_err(|err| TokenError::NewPasswordRefused(cognito_message(&err)))?;
            match answered.authentication_result() {
                Some(result) => id_token_of(result),
                None => Err(TokenError::Unanswered(
                    answered
                        .challenge_name()
                        .map_or("another challenge", ChallengeNameType::as_str)
                        .to_owned(),
                )),
            }
        }
        Some(other) => Err(TokenError::Unanswered(other.as_str().to_owned())),
        None => Err(TokenError::NoToken),
    }
}

fn id_token_of(result: &cognito::types::AuthenticationResultType) -> Result<String, TokenError> {
    result
        .id_token()
        .map(str::to_owned)
        .ok_or(TokenError::NoToken)
}
