//! The stack's user pool and app client, by id or found by name with the
//! SDK's paginators.

use aws_sdk_cognitoidentityprovider as cognito;

use super::{BOOTSTRAP_HINT, Names, StackError};

/// The user pool and its app client, by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPool {
    pub pool_id: String,
    pub client_id: String,
}

impl UserPool {
    /// The region a pool lives in: the prefix of its id (`eu-west-1_AbC`).
    pub fn region(&self) -> &str {
        self.pool_id.split('_').next().unwrap_or_default()
    }

    /// The `iss` of the pool's tokens. Emulators sign with this same issuer.
    pub fn issuer(&self) -> String {
        format!(
            "https://cognito-idp.{}.amazonaws.com/{}",
            self.region(),
            self.pool_id
        )
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

/// Finds the user pool and app client: by the ids given, else by name.
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
    let client_id = match &names.client_id {
        Some(id) => id.clone(),
        None => find_client_by_name(client, &pool_id, &names.app_client)
            .await?
            .ok_or_else(|| StackError::Missing {
                what: "the app client",
                name: names.app_client.clone(),
                hint: BOOTSTRAP_HINT,
            })?,
    };
    Ok(UserPool { pool_id, client_id })
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
            client_id: "c".into(),
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
