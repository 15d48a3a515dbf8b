//! `onboard token`: prints a user's ID token, for
//! `curl -H "Authorization: $(onboard token --email E)" .../hello`.

use crate::outln;
use std::io::{BufRead, IsTerminal};

use crate::commands::token;
use crate::stack::{StackArgs, find_user_pool};
use aws_sdk_cognitoidentityprovider as cognito;
use clap::Args;

use crate::commands::CommandError;

/// Who signs in: the email and password `onboard token` and `onboard me`
/// take.
#[derive(Debug, Args)]
pub struct SignInArgs {
    /// The user's email (the pool's username).
    #[arg(long)]
    pub email: String,
    /// The password; else asked for at the terminal (not echoed), or read
    /// as the first line of standard input.
    #[arg(long, env = "ONBOARD_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
}

impl SignInArgs {
    /// The password given, or asked for.
    pub fn password(&self) -> Result<String, CommandError> {
        match &self.password {
            Some(password) => Ok(password.clone()),
            None => secret("Password: ")?
                .ok_or_else(|| CommandError::Refused("no password given".to_owned())),
        }
    }
}

/// The new password a user an administrator created must choose at their
/// first sign-in: `onboard token` and `onboard credentials` take it.
#[derive(Debug, Args)]
pub struct NewPasswordArgs {
    /// The new password, for a user an administrator created, who must
    /// choose one at their first sign-in; else asked for when Cognito
    /// requires it (at the terminal, or the next line of standard input).
    #[arg(long, env = "ONBOARD_NEW_PASSWORD", hide_env_values = true)]
    pub new_password: Option<String>,
}

impl NewPasswordArgs {
    /// The new password given, else asked for: called only when Cognito
    /// requires one.
    pub fn when_asked(self) -> impl FnOnce() -> Option<String> {
        move || {
            self.new_password
                .or_else(|| secret("New password: ").ok().flatten())
        }
    }
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub user: SignInArgs,
    #[command(flatten)]
    pub first_sign_in: NewPasswordArgs,
}

pub async fn run(args: TokenArgs) -> Result<(), CommandError> {
    let (sdk, names) = args.stack.resolve().await?;
    let client = cognito::Client::new(&sdk);
    let pool = find_user_pool(&client, &names).await?;
    let password = args.user.password()?;
    let token = token::id_token(
        &client,
        &pool,
        &args.user.email,
        &password,
        args.first_sign_in.when_asked(),
    )
    .await?;
    outln!("{token}");
    Ok(())
}

/// A secret from the terminal (not echoed), or the next line of standard
/// input when it is not a terminal; `None` when there is none.
fn secret(prompt: &str) -> Result<Option<String>, CommandError> {
    let line = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt)?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line
    };
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    Ok(Some(line).filter(|l| !l.is_empty()))
}
