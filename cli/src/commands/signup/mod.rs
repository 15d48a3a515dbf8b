//! `onboard signup`: a sign-up as the hosted UI makes it, on an endpoint.
//!
//! The user signs up in the pool with the web app client and is confirmed (as
//! the emailed code would); then the post-confirmation handler is invoked
//! with the event Cognito sends after a confirmation, because an emulator
//! does not call triggers. Running it again for the same email finds the
//! user and invokes the trigger again, which records nothing new.

pub mod command;

use std::collections::HashMap;

use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsPostConfirmation,
    CognitoEventUserPoolsPostConfirmationTriggerSource as TriggerSource,
};
use aws_sdk_cognitoidentityprovider as cognito;
use onboard_shared::error::{BoxError, error_chain};
use onboard_shared::ports::UserStore;
use post_confirmation::{Outcome, TriggerError};

use crate::stack::{Stack, StackError, UserPool, find_user_pool};

/// What a sign-up did.
#[derive(Debug)]
pub struct SignedUp {
    /// The user's `sub`.
    pub sub: String,
    /// False when the user was already in the pool.
    pub new_in_pool: bool,
    pub outcome: Outcome,
}

#[derive(Debug, thiserror::Error)]
pub enum SignUpError {
    #[error(transparent)]
    Stack(#[from] StackError),
    /// Cognito refused the sign-up (a weak password, a bad attribute). Its
    /// message is shown as it is: Cognito never repeats the email in it.
    #[error("the user pool refused the sign-up: {0}")]
    Refused(String),
    #[error("{action} failed")]
    Call {
        action: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("the post-confirmation trigger failed: {0}")]
    Trigger(#[from] TriggerError),
}

/// Signs a user up, confirms them and runs the post-confirmation trigger.
pub async fn sign_up(
    stack: &Stack,
    email: &str,
    password: &str,
    name: Option<&str>,
) -> Result<SignedUp, SignUpError> {
    let client = cognito::Client::new(&stack.sdk);
    let pool = find_user_pool(&client, &stack.names).await?;
    let mut attributes = vec![attribute("email", email)?];
    if let Some(name) = name {
        attributes.push(attribute("name", name)?);
    }
    let signed = client
        .sign_up()
        .client_id(&pool.web_client_id)
        .username(email)
        .password(password)
        .set_user_attributes(Some(attributes))
        .send()
        .await;
    let new_in_pool = match signed {
        Ok(_) => true,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_username_exists_exception()) =>
        {
            false
        }
        Err(err) => return Err(SignUpError::Refused(cognito_message(&err))),
    };
    let mut user = pool_user(&client, &pool, email).await?;
    if user.status != Some(cognito::types::UserStatusType::Confirmed) {
        client
            .admin_confirm_sign_up()
            .user_pool_id(&pool.pool_id)
            .username(email)
            .send()
            .await
            .map_err(|err| call("AdminConfirmSignUp", err))?;
        user.status = Some(cognito::types::UserStatusType::Confirmed);
    }
    let (sub, outcome) = record(&stack.users(), stack.region(), &pool, user).await?;
    Ok(SignedUp {
        sub,
        new_in_pool,
        outcome,
    })
}

/// Does what Cognito does once a sign-up is confirmed: invokes the
/// post-confirmation handler with the user's attributes. The user's `sub`,
/// and what the handler did.
pub async fn confirmed(
    users: &dyn UserStore,
    region: String,
    client: &cognito::Client,
    pool: &UserPool,
    username: &str,
) -> Result<(String, Outcome), SignUpError> {
    let user = pool_user(client, pool, username).await?;
    record(users, region, pool, user).await
}

/// The post-confirmation handler, invoked for a confirmed user of the pool
/// in `region`: the trigger's own code path, as Cognito would run it.
pub(crate) async fn record(
    users: &dyn UserStore,
    region: String,
    pool: &UserPool,
    user: PoolUser,
) -> Result<(String, Outcome), SignUpError> {
    let sub = user
        .attributes
        .get("sub")
        .cloned()
        .ok_or_else(|| SignUpError::Call {
            action: "AdminGetUser",
            source: "the user has no sub".to_owned().into(),
        })?;
    let mut attributes = user.attributes;
    if let Some(status) = user
        .status
        .filter(|s| *s != cognito::types::UserStatusType::Confirmed)
    {
        attributes.insert("cognito:user_status".to_owned(), status.as_str().to_owned());
    }
    let event = confirmation_event(pool, region, &user.username, attributes);
    let event = serde_json::to_value(&event).map_err(|err| SignUpError::Call {
        action: "building the trigger event",
        source: err.into(),
    })?;
    let (_, outcome) = post_confirmation::handle(users, event, chrono::Utc::now(), None).await?;
    Ok((sub, outcome))
}

/// A user as the pool holds them.
#[derive(Debug, Clone)]
pub struct PoolUser {
    /// The pool's own username (an id, in a pool that signs in by email).
    pub username: String,
    pub status: Option<cognito::types::UserStatusType>,
    pub attributes: HashMap<String, String>,
}

async fn pool_user(
    client: &cognito::Client,
    pool: &UserPool,
    username: &str,
) -> Result<PoolUser, SignUpError> {
    let user = client
        .admin_get_user()
        .user_pool_id(&pool.pool_id)
        .username(username)
        .send()
        .await
        .map_err(|err| call("AdminGetUser", err))?;
    let attributes = user
        .user_attributes()
        .iter()
        .filter_map(|a| Some((a.name().to_owned(), a.value()?.to_owned())))
        .collect();
    Ok(PoolUser {
        username: user.username,
        status: user.user_status,
        attributes,
    })
}

/// What Cognito said when it refused a call, as it said it (Cognito never
/// repeats the email in it), else the error's chain.
pub fn cognito_message<E, R>(err: &cognito::error::SdkError<E, R>) -> String
where
    E: cognito::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    err.as_service_error()
        .and_then(|e| e.message())
        .map_or_else(|| error_chain(err), str::to_owned)
}

/// A user attribute for SignUp.
pub fn attribute(name: &str, value: &str) -> Result<cognito::types::AttributeType, SignUpError> {
    cognito::types::AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(|err| SignUpError::Call {
            action: "building the sign-up",
            source: err.into(),
        })
}

fn call(action: &'static str, source: impl Into<BoxError>) -> SignUpError {
    SignUpError::Call {
        action,
        source: source.into(),
    }
}

/// The event Cognito sends the post-confirmation trigger after a sign-up is
/// confirmed: the user's attributes, and Cognito's own status among them
/// (`CONFIRMED`, unless the attributes already say another).
pub fn confirmation_event(
    pool: &UserPool,
    region: String,
    username: &str,
    mut attributes: HashMap<String, String>,
) -> CognitoEventUserPoolsPostConfirmation {
    attributes
        .entry("cognito:user_status".to_owned())
        .or_insert_with(|| "CONFIRMED".to_owned());
    let mut event = CognitoEventUserPoolsPostConfirmation::default();
    let header = &mut event.cognito_event_user_pools_header;
    header.version = Some("1".to_owned());
    header.trigger_source = Some(TriggerSource::ConfirmSignUp);
    header.region = Some(region);
    header.user_pool_id = Some(pool.pool_id.clone());
    header.user_name = Some(username.to_owned());
    header.caller_context.client_id = Some(pool.web_client_id.clone());
    header.caller_context.awssdk_version = Some("onboard".to_owned());
    event.request.user_attributes = attributes;
    event
}
