//! Who the calls are made as, checked before any work: the credentials
//! loaded, then STS `GetCallerIdentity`. No credentials, an expired session
//! or credentials AWS does not know each become one line that says what to
//! do, instead of the first real call's stack of SDK errors.

use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts as sts;
use serde::Serialize;

use super::StackError;
use onboard_shared::error::error_chain;

/// The account and identity the calls are made as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub account: String,
    pub arn: String,
}

/// Error codes STS gives a session that has run out.
const EXPIRED: [&str; 3] = ["ExpiredToken", "ExpiredTokenException", "RequestExpired"];
/// Error codes STS gives credentials it does not know.
const UNKNOWN: [&str; 3] = [
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
];

const SIGN_IN: &str = "set AWS_PROFILE (and `aws sso login` for an SSO profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";

/// Loads the credentials and asks STS who they are.
pub async fn caller(sdk: &SdkConfig) -> Result<Caller, StackError> {
    let Some(provider) = sdk.credentials_provider() else {
        return Err(StackError::Credentials(format!(
            "no AWS credentials are configured: {SIGN_IN}"
        )));
    };
    if let Err(err) = provider.provide_credentials().await {
        return Err(StackError::Credentials(not_loaded(&err)));
    }
    let identity = sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|err| {
            err.as_service_error()
                .and_then(|e| e.meta().code())
                .and_then(refused)
                .map_or_else(
                    || StackError::call("GetCallerIdentity", err),
                    StackError::Credentials,
                )
        })?;
    Ok(Caller {
        account: identity.account.unwrap_or_default(),
        arn: identity.arn.unwrap_or_default(),
    })
}

/// What STS's refusal with this code means, in one line, when it is about
/// the credentials.
fn refused(code: &str) -> Option<String> {
    if EXPIRED.contains(&code) {
        Some(format!(
            "the AWS session has expired ({code}): sign in again ({SIGN_IN})"
        ))
    } else if UNKNOWN.contains(&code) {
        Some(format!(
            "AWS does not accept these credentials ({code}): {SIGN_IN}"
        ))
    } else {
        None
    }
}

/// Why the credentials could not be loaded, in one line.
fn not_loaded(err: &CredentialsError) -> String {
    let chain = error_chain(err);
    // The first link only says credentials could not be loaded; the next says why.
    let why = chain.split(": ").nth(1).unwrap_or(&chain).to_owned();
    let lower = chain.to_ascii_lowercase();
    match err {
        // The default chain's last provider asks instance metadata, which a
        // workstation does not have: none of the providers had credentials.
        CredentialsError::CredentialsNotLoaded(_) => {
            format!("no AWS credentials were found: {SIGN_IN}")
        }
        _ if lower.contains("imds") => format!("no AWS credentials were found: {SIGN_IN}"),
        _ if lower.contains("expired") => {
            format!("the AWS session has expired: sign in again ({SIGN_IN})")
        }
        _ => format!("the AWS credentials could not be loaded ({why}): {SIGN_IN}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credentials_failure_is_said_in_one_line_with_what_to_do() {
        let imds = CredentialsError::provider_error(std::io::Error::other(
            "failed to load IMDS session token: service error: request forbidden",
        ));
        let expired = CredentialsError::provider_error(std::io::Error::other(
            "the SSO session has expired or is invalid",
        ));
        let bad_profile = CredentialsError::invalid_configuration(std::io::Error::other(
            "profile `work` was not defined",
        ));
        for (err, says) in [
            (
                CredentialsError::not_loaded("no providers in chain"),
                "no AWS credentials were found",
            ),
            (imds, "no AWS credentials were found"),
            (expired, "the AWS session has expired"),
            (bad_profile, "profile `work` was not defined"),
        ] {
            let line = not_loaded(&err);
            assert!(line.contains(says), "{line}");
            assert!(line.contains("AWS_PROFILE"), "{line}");
            assert!(!line.contains('\n'), "{line}");
        }
    }

    #[test]
    fn sts_refusing_an_expired_or_unknown_session_says_which() {
        for code in ["ExpiredToken", "ExpiredTokenException", "RequestExpired"] {
            let line = refused(code).unwrap();
            assert!(line.starts_with("the AWS session has expired"), "{line}");
        }
        for code in ["InvalidClientTokenId", "UnrecognizedClientException"] {
            let line = refused(code).unwrap();
            assert!(
                line.starts_with("AWS does not accept these credentials"),
                "{line}"
            );
        }
        assert_eq!(refused("Throttling"), None);
    }
}
