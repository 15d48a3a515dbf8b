//! The stack's user pool and its two app clients, by id or found by name
//! with the SDK's paginators.
//!
//! The clients split what a token may do. The web client's (the hosted UI's
//! and the page's) tokens come from the authorization code flow only, with
//! the scopes [`WEB_CLIENT_SCOPES`]: never `aws.cognito.signin.user.admin`,
//! the scope Cognito asks of an access token before it lets the user change
//! their own attributes (`UpdateUserAttributes`) or delete themselves
//! (`DeleteUser`). The CLI's client signs in only with
//! `ADMIN_USER_PASSWORD_AUTH`, which takes IAM credentials allowed
//! `cognito-idp:AdminInitiateAuth` on the pool: its tokens, which do carry
//! that scope, are only ever held by someone who could already change the
//! user with the administrators' calls.

use aws_sdk_cognitoidentityprovider as cognito;

use super::{BOOTSTRAP_HINT, Names, StackError};

/// The OAuth scopes the web client allows (the template's
/// `AllowedOAuthScopes`, held equal by a test), and the only ones the local
/// hosted UI grants.
pub const WEB_CLIENT_SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// The user pool and its app clients, by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPool {
    pub pool_id: String,
    /// The hosted UI's and the page's client.
    pub web_client_id: String,
    /// `onboard token`'s and `onboard me`'s client.
    pub cli_client_id: String,
}

impl UserPool {
    /// The region a pool lives in: the prefix of its id (`eu-west-1_AbC`).
    pub fn region(&self) -> &str {
        self.pool_id.split('_').next().unwrap_or_default()
    }

    /// The `iss` of the pool's tokens. Emulators sign with this same issuer.
    pub fn issuer(&self) -> String {
        format!("https://{}", self.provider_name())
    }

    /// The pool as an identity pool names its provider (the issuer without
    /// its scheme): the key of an ID token in `Logins`.
    pub fn provider_name(&self) -> String {
        format!(
            "cognito-idp.{}.amazonaws.com/{}",
            self.region(),
            self.pool_id
        )
    }

    /// The audiences of the ID tokens the stack's API accepts: its clients'.
    pub fn audiences(&self) -> [&str; 2] {
        [&self.web_client_id, &self.cli_client_id]
    }

    /// Where the pool's signing keys are published: the issuer's, or the
    /// emulator's own copy.
    pub fn jwks_url(&self, endpoint_url: Option<&str>) -> String {
        match endpoint_url {
            Some(endpoint) => format!(
                "{}/{}/.well-known/jwks.json",
                endpoint.trim_end_matches('/'),
                self.pool_id
            ),
            None => format!("{}/.well-known/jwks.json", self.issuer()),
        }
    }
}

/// Finds the user pool and its app clients: by the ids given, else by name.
pub async fn find_user_pool(
    client: &cognito::Client,
    names: &Names,
) -> Result<UserPool, StackError> {
    let pool_id = match &names.user_pool_id {
        Some(id) => id.clone(),
        None => find_pool_by_name(client, &names.user_pool)
            .await?
            .ok_or_else(|| StackError::Missing {
                what: "the user pool",
                name: names.user_pool.clone(),
                hint: BOOTSTRAP_HINT,
            })?,
    };
    let web_client_id = app_client(
        client,
        &pool_id,
        names.web_client_id.as_deref(),
        &names.web_client,
    )
    .await?;
    let cli_client_id = app_client(
        client,
        &pool_id,
        names.cli_client_id.as_deref(),
        &names.cli_client,
    )
    .await?;
    Ok(UserPool {
        pool_id,
        web_client_id,
        cli_client_id,
    })
}

/// An app client's id: the one given, else the one of the client so named.
async fn app_client(
    client: &cognito::Client,
    pool_id: &str,
    id: Option<&str>,
    name: &str,
) -> Result<String, StackError> {
    if let Some(id) = id {
        return Ok(id.to_owned());
    }
    find_client_by_name(client, pool_id, name)
        .await?
        .ok_or_else(|| StackError::Missing {
            what: "the app client",
            name: name.to_owned(),
            hint: BOOTSTRAP_HINT,
        })
}

pub(super) async fn find_pool_by_name(
    client: &cognito::Client,
    name: &str,
) -> Result<Option<String>, StackError> {
    let mut pools = client
        .list_user_pools()
        .max_results(60)
        .into_paginator()
        .items()
        .send();
    while let Some(pool) = pools.next().await {
        let pool = pool.map_err(|err| StackError::call("ListUserPools", err))?;
        if pool.name() == Some(name) {
            return Ok(pool.id().map(str::to_owned));
        }
    }
    Ok(None)
}

pub(super) async fn find_client_by_name(
    client: &cognito::Client,
    pool_id: &str,
    name: &str,
) -> Result<Option<String>, StackError> {
    let mut clients = client
        .list_user_pool_clients()
        .user_pool_id(pool_id)
        .max_results(60)
        .into_paginator()
        .items()
        .send();
    while let Some(found) = clients.next().await {
        let found = found.map_err(|err| StackError::call("ListUserPoolClients", err))?;
        if found.client_name() == Some(name) {
            return Ok(found.client_id().map(str::to_owned));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pools_tokens_are_issued_by_cognito_and_its_keys_found_at_the_endpoint() {
        let pool = UserPool {
            pool_id: "eu-west-1_AbC".into(),
            web_client_id: "w".into(),
            cli_client_id: "c".into(),
        };
        assert_eq!(
            pool.issuer(),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC"
        );
        assert_eq!(
            pool.jwks_url(None),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC/.well-known/jwks.json"
        );
        assert_eq!(
            pool.jwks_url(Some("http://127.0.0.1:5000/")),
            "http://127.0.0.1:5000/eu-west-1_AbC/.well-known/jwks.json"
        );
    }
}
