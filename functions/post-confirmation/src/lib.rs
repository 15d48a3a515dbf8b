//! The Cognito post-confirmation trigger: records a newly confirmed user in
//! the users table, once.
//!
//! Cognito retries a trigger that fails or times out, so the write is a
//! conditional put: a retry finds the user already there and succeeds
//! without writing. Only `PostConfirmation_ConfirmSignUp` records a user; a
//! confirmed password reset writes nothing. The event is returned unchanged,
//! as Cognito expects.

mod lambda;
pub use lambda::{invoke, users};

use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsPostConfirmation,
    CognitoEventUserPoolsPostConfirmationTriggerSource as TriggerSource,
};
use chrono::{DateTime, Utc};
use onboard_shared::domain::{DomainError, User, UserId};
use onboard_shared::error::PortError;
use onboard_shared::ports::{PutNew, UserStore};
use onboard_shared::telemetry::metrics::Metric;
use serde_json::Value;

/// Why the trigger failed. Cognito shows the sign-up an error and may retry.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// Said without the values the parser quoted (never an email), so the
    /// parser's own message is not kept as the source.
    #[error(
        "the event is not a Cognito post-confirmation event: {}",
        onboard_shared::reason::without_input_values(&.0.to_string())
    )]
    NotAnEvent(serde_json::Error),
    #[error("the confirmed user cannot be recorded: {0}")]
    InvalidUser(#[from] DomainError),
    #[error("the user could not be written to the users table")]
    Store(#[from] PortError),
}

impl onboard_shared::error::Failure for TriggerError {
    fn kind(&self) -> &'static str {
        match self {
            TriggerError::NotAnEvent(_) => "NotAnEvent",
            TriggerError::InvalidUser(_) => "InvalidUser",
            TriggerError::Store(err) => err.kind(),
        }
    }
}

impl TriggerError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, TriggerError::Store(err) if err.is_retryable())
    }

    /// The table throttled the write (after the SDK's own retries).
    pub fn is_throttled(&self) -> bool {
        matches!(self, TriggerError::Store(PortError::Throttled { .. }))
    }
}

/// What the trigger did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Recorded(UserId),
    AlreadyRecorded(UserId),
    /// A password reset was confirmed: nothing to record.
    Ignored,
}

impl Outcome {
    /// The metric the outcome counts in.
    pub fn metric(&self) -> Metric {
        match self {
            Outcome::Recorded(_) => Metric::UsersRecorded,
            Outcome::AlreadyRecorded(_) | Outcome::Ignored => Metric::Skipped,
        }
    }
}

/// Handles one trigger invocation and returns the event unchanged.
/// `trace_header` is the invocation's own (Lambda's context gives it): it
/// goes on the row, for the router to carry on to both queues (one sign-up,
/// one trace).
pub async fn handle(
    users: &dyn UserStore,
    event: Value,
    now: DateTime<Utc>,
    trace_header: Option<&str>,
) -> Result<(Value, Outcome), TriggerError> {
    let parsed: CognitoEventUserPoolsPostConfirmation =
        serde_json::from_value(event.clone()).map_err(TriggerError::NotAnEvent)?;
    let outcome = record(users, &parsed, now, trace_header).await?;
    Ok((event, outcome))
}

/// Records the user of a typed event.
pub async fn record(
    users: &dyn UserStore,
    event: &CognitoEventUserPoolsPostConfirmation,
    now: DateTime<Utc>,
    trace_header: Option<&str>,
) -> Result<Outcome, TriggerError> {
    let header = &event.cognito_event_user_pools_header;
    if header.trigger_source == Some(TriggerSource::ConfirmForgotPassword) {
        tracing::info!("password reset confirmed; nothing to record");
        return Ok(Outcome::Ignored);
    }
    let user = User::from_cognito(&event.request.user_attributes, now)?;
    let id = user.user_id.clone();
    match users.put_new_traced(&user, trace_header).await? {
        PutNew::Created => {
            tracing::info!(user_id = %id, version = %user.version, "recorded the new user");
            Ok(Outcome::Recorded(id))
        }
        PutNew::AlreadyExists => {
            tracing::info!(user_id = %id, "the user was already recorded (a retried trigger)");
            Ok(Outcome::AlreadyRecorded(id))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onboard_shared::local::LocalTable;

    const SIGN_UP: &str = include_str!("../../../fixtures/cognito/post-confirmation-sign-up.json");
    const FORGOT_PASSWORD: &str =
        include_str!("../../../fixtures/cognito/post-confirmation-forgot-password.json");
    const WITHOUT_SUB: &str = include_str!("../../../fixtures/malformed/cognito-without-sub.json");

    fn event(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    #[tokio::test]
    async fn a_confirmed_sign_up_is_recorded_once_however_often_cognito_retries() {
        // GIVEN an empty table
        let table = LocalTable::in_memory();
        // WHEN Cognito delivers the same trigger twice, then a password reset
        let (returned, first) = handle(&table, event(SIGN_UP), Utc::now(), None)
            .await
            .unwrap();
        let (_, second) = handle(&table, event(SIGN_UP), Utc::now(), None)
            .await
            .unwrap();
        let (_, reset) = handle(&table, event(FORGOT_PASSWORD), Utc::now(), None)
            .await
            .unwrap();
        // THEN one user at version 1, one PutItem per sign-up, and the event comes back as it was
        assert!(matches!(first, Outcome::Recorded(_)));
        assert!(matches!(second, Outcome::AlreadyRecorded(_)));
        assert_eq!(reset, Outcome::Ignored);
        assert_eq!(table.len(), 1);
        let Outcome::Recorded(id) = first else {
            unreachable!()
        };
        assert_eq!(table.get(&id).unwrap().version.get(), 1);
        assert_eq!(table.calls.get("PutItem"), 2);
        assert_eq!(table.take_stream().len(), 1);
        assert_eq!(returned, event(SIGN_UP));
    }

    #[tokio::test]
    async fn an_event_without_sub_is_a_clear_error_and_writes_nothing() {
        let table = LocalTable::in_memory();
        let err = handle(&table, event(WITHOUT_SUB), Utc::now(), None)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the confirmed user cannot be recorded: the attribute `sub` is required but missing"
        );
        assert!(!err.is_retryable());
        assert_eq!(table.calls.get("PutItem"), 0);
    }

    #[tokio::test]
    async fn something_else_than_a_trigger_event_is_refused() {
        let table = LocalTable::in_memory();
        let err = handle(
            &table,
            serde_json::json!({"hello": "world"}),
            Utc::now(),
            None,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, TriggerError::NotAnEvent(_)), "{err}");
    }
}
