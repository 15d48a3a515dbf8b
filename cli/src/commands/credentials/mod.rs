//! `onboard credentials`: a person's own temporary AWS credentials, from the
//! stack's identity pool, through its enhanced flow: their ID token (as
//! `onboard token` gets it), `GetId`, then `GetCredentialsForIdentity`. The
//! role they carry reads the person's own archive object and nothing else
//! (docs/own-credentials.md).

pub mod command;

use aws_sdk_cognitoidentity as identity;
use chrono::{DateTime, Utc};

use crate::commands::signup::cognito_message;
use crate::stack::UserPool;

/// Why the identity pool gave no credentials.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Cognito refused the token (signed out everywhere, deleted, or not
    /// one of the pool's clients), in its own words.
    #[error("the identity pool refused the sign-in: {0}")]
    Refused(String),
    #[error("the identity pool answered without {0}")]
    Incomplete(&'static str),
}

/// Temporary credentials for one identity; `Debug` leaves the secret and
/// the session token out.
pub struct Credentials {
    pub identity_id: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: Option<DateTime<Utc>>,
}

/// The person's identity in the pool, then its credentials, for their ID
/// token.
pub async fn for_token(
    client: &identity::Client,
    identity_pool_id: &str,
    pool: &UserPool,
    id_token: &str,
) -> Result<Credentials, CredentialsError> {
    let provider = pool.provider_name();
    let identity_id = client
        .get_id()
        .identity_pool_id(identity_pool_id)
        .logins(&provider, id_token)
        .send()
        .await
        .map_err(|err| CredentialsError::Refused(cognito_message(&err)))?
        .identity_id
        .ok_or(CredentialsError::Incomplete("an identity"))?;
    let answered = client
        .get_credentials_for_identity()
        .identity_id(&identity_id)
        .logins(&provider, id_token)
        .send()
        .await
        .map_err(|err| CredentialsError::Refused(cognito_message(&err)))?;
    let given = answered
        .credentials
        .ok_or(CredentialsError::Incomplete("credentials"))?;
    let part = |value: Option<String>, what| value.ok_or(CredentialsError::Incomplete(what));
    Ok(Credentials {
        identity_id,
        access_key_id: part(given.access_key_id, "an access key")?,
        secret_access_key: part(given.secret_key, "a secret key")?,
        session_token: part(given.session_token, "a session token")?,
        expiration: given
            .expiration
            .and_then(|at| DateTime::from_timestamp(at.secs(), at.subsec_nanos())),
    })
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("identity_id", &self.identity_id)
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// `export` lines for a POSIX shell, each value single-quoted.
    pub fn exports(&self) -> String {
        let quoted = |value: &str| format!("'{}'", value.replace('\'', r"'\''"));
        format!(
            "export AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\nexport AWS_SESSION_TOKEN={}",
            quoted(&self.access_key_id),
            quoted(&self.secret_access_key),
            quoted(&self.session_token),
        )
    }

    /// The document an AWS SDK's `credential_process` reads (version 1).
    pub fn process_json(&self) -> serde_json::Value {
        let mut document = serde_json::json!({
            "Version": 1,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
        });
        if let Some(at) = self.expiration {
            document["Expiration"] = serde_json::json!(at.to_rfc3339());
        }
        document
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Credentials {
        Credentials {
            identity_id: "eu-west-1:1".into(),
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "se/cr+et=".into(),
            session_token: "to'ken".into(),
            expiration: DateTime::from_timestamp(1_800_000_000, 0),
        }
    }

    #[test]
    fn the_exports_quote_every_value_for_the_shell() {
        assert_eq!(
            sample().exports(),
            "export AWS_ACCESS_KEY_ID='ASIAEXAMPLE'\n\
             export AWS_SECRET_ACCESS_KEY='se/cr+et='\n\
             export AWS_SESSION_TOKEN='to'\\''ken'"
        );
    }

    #[test]
    fn the_json_is_what_credential_process_reads() {
        let json = sample().process_json();
        assert_eq!(json["Version"], 1);
        assert_eq!(json["AccessKeyId"], "ASIAEXAMPLE");
        assert_eq!(json["SecretAccessKey"], "se/cr+et=");
        assert_eq!(json["SessionToken"], "to'ken");
        assert_eq!(json["Expiration"], "2027-01-15T08:00:00+00:00");
    }
}
