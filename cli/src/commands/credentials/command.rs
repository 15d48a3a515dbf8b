//! `onboard credentials`: prints a person's own temporary AWS credentials,
//! as `export` lines for `eval "$(onboard credentials --email E)"`, or as
//! the JSON an AWS SDK's `credential_process` reads.

use aws_sdk_cognitoidentity as identity;
use aws_sdk_cognitoidentityprovider as cognito;
use clap::Args;

use crate::commands::CommandError;
use crate::commands::credentials;
use crate::commands::token::{
    self,
    command::{NewPasswordArgs, SignInArgs},
};
use crate::outln;
use crate::stack::{StackArgs, find_identity_pool, find_user_pool};

#[derive(Debug, Args)]
pub struct CredentialsArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub user: SignInArgs,
    #[command(flatten)]
    pub first_sign_in: NewPasswordArgs,
    /// Print the `credential_process` JSON document instead of `export`
    /// lines.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: CredentialsArgs) -> Result<(), CommandError> {
    let (sdk, names) = args.stack.resolve().await?;
    let pool = find_user_pool(&cognito::Client::new(&sdk), &names).await?;
    let identities = identity::Client::new(&sdk);
    let identity_pool = find_identity_pool(&identities, &names).await?;
    let password = args.user.password()?;
    let id_token = token::id_token(
        &cognito::Client::new(&sdk),
        &pool,
        &args.user.email,
        &password,
        args.first_sign_in.when_asked(),
    )
    .await?;
    let given = credentials::for_token(&identities, &identity_pool, &pool, &id_token).await?;
    if args.json {
        outln!("{}", given.process_json());
    } else {
        outln!("{}", given.exports());
    }
    let expires = given
        .expiration
        .map_or_else(|| "an unknown time".to_owned(), |at| at.to_rfc3339());
    eprintln!(
        "onboard credentials: identity {} until {expires}; they read your own archive object, nothing else",
        given.identity_id
    );
    Ok(())
}
