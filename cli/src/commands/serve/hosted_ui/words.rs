//! What the stand-in says, in onboard's own words rather than the
//! emulator's: by the error code Cognito answers with, never its message.
//! Like the hosted UI with `PreventUserExistenceErrors`, only the sign-up
//! tells whether an email has an account; the sign-in and the
//! forgotten-password flow say the same for an unknown email as for a
//! wrong password.

use aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata;

/// The error code of a Cognito call that failed.
pub(super) fn code_of<E: ProvideErrorMetadata, R>(
    err: &aws_sdk_cognitoidentityprovider::error::SdkError<E, R>,
) -> Option<&str> {
    err.as_service_error().and_then(ProvideErrorMetadata::code)
}

pub(super) const WRONG_PASSWORD: &str = "Incorrect email or password.";
pub(super) const WRONG_CODE: &str = "That code is not the one we sent. Check it and try again.";
pub(super) const CODE_SENT: &str =
    "If an account has this email, we sent it a code. Enter it with your new password.";

pub(super) fn sign_in(code: Option<&str>) -> &'static str {
    match code {
        Some("NotAuthorizedException" | "UserNotFoundException") => WRONG_PASSWORD,
        Some("PasswordResetRequiredException") => {
            "Your password must be reset: use “Forgot your password?”."
        }
        Some("TooManyRequestsException" | "LimitExceededException") => {
            "Too many attempts. Wait a moment and try again."
        }
        _ => "The sign-in did not work. Try again.",
    }
}

pub(super) fn sign_up(code: Option<&str>) -> &'static str {
    match code {
        Some("UsernameExistsException") => {
            "An account with this email already exists. Sign in instead."
        }
        Some("InvalidPasswordException") => "The password does not meet the rules below.",
        Some("InvalidParameterException") => "Check the email and the name.",
        Some("TooManyRequestsException" | "LimitExceededException") => {
            "Too many attempts. Wait a moment and try again."
        }
        _ => "The sign-up did not work. Try again.",
    }
}

pub(super) fn new_password(code: Option<&str>) -> &'static str {
    match code {
        Some("InvalidPasswordException") => "The password does not meet the rules below.",
        _ => "The password could not be changed. Try again.",
    }
}
