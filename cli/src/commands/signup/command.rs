//! `onboard signup`: a confirmed sign-up and its trigger, on a stack.

use crate::commands::signup;
use crate::outln;
use crate::stack::StackArgs;
use clap::Args;

use crate::commands::CommandError;
use crate::commands::connect;

#[derive(Debug, Args)]
pub struct SignupArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The email to sign up with (the pool's username).
    #[arg(long)]
    pub email: String,
    /// The password (the pool's policy applies).
    #[arg(long, env = "ONBOARD_PASSWORD", hide_env_values = true)]
    pub password: String,
    /// The name to greet the user by.
    #[arg(long)]
    pub name: Option<String>,
}

pub async fn run(args: SignupArgs) -> Result<(), CommandError> {
    let stack = connect(&args.stack).await?;
    let signed = signup::sign_up(&stack, &args.email, &args.password, args.name.as_deref()).await?;
    tracing::info!(
        user_id = %signed.sub,
        new_in_pool = signed.new_in_pool,
        outcome = ?signed.outcome,
        "signed up and confirmed"
    );
    outln!("{}", signed.sub);
    Ok(())
}
