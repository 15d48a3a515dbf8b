//! The stack's identity pool, which trades a person's ID token for
//! temporary AWS credentials that read their own archive object
//! (`OwnDataRole` in infra/template.yaml): found by id or by name, and made
//! on an emulator by `onboard dev --bootstrap` as the template makes it.

use aws_sdk_cognitoidentity as identity;

use super::{BOOTSTRAP_HINT, Names, StackError, UserPool};

/// The identity pool's id: the one given (or a deployed stack's Output),
/// else the one of the pool so named.
pub async fn find_identity_pool(
    client: &identity::Client,
    names: &Names,
) -> Result<String, StackError> {
    if let Some(id) = &names.identity_pool_id {
        return Ok(id.clone());
    }
    by_name(client, &names.identity_pool)
        .await?
        .ok_or_else(|| StackError::Missing {
            what: "the identity pool",
            name: names.identity_pool.clone(),
            hint: BOOTSTRAP_HINT,
        })
}

async fn by_name(client: &identity::Client, name: &str) -> Result<Option<String>, StackError> {
    let mut pools = client
        .list_identity_pools()
        .max_results(60)
        .into_paginator()
        .items()
        .send();
    while let Some(pool) = pools.next().await {
        let pool = pool.map_err(|err| StackError::call("ListIdentityPools", err))?;
        if pool.identity_pool_name() == Some(name) {
            return Ok(pool.identity_pool_id().map(str::to_owned));
        }
    }
    Ok(None)
}

/// The identity pool so named, made when it is missing: the user pool its
/// only provider through either app client, with the server-side token
/// check, no guest identities, no classic flow. Its id and whether it was
/// made.
pub(super) async fn ensure(
    client: &identity::Client,
    name: &str,
    pool: &UserPool,
) -> Result<(String, &'static str), StackError> {
    if let Some(id) = by_name(client, name).await? {
        return Ok((id, "exists"));
    }
    let provider = |client_id: &str| {
        identity::types::CognitoIdentityProvider::builder()
            .provider_name(pool.provider_name())
            .client_id(client_id)
            .server_side_token_check(true)
            .build()
    };
    let made = client
        .create_identity_pool()
        .identity_pool_name(name)
        .allow_unauthenticated_identities(false)
        .allow_classic_flow(false)
        .cognito_identity_providers(provider(&pool.web_client_id))
        .cognito_identity_providers(provider(&pool.cli_client_id))
        .send()
        .await
        .map_err(|err| StackError::call("CreateIdentityPool", err))?;
    Ok((made.identity_pool_id, "created"))
}
