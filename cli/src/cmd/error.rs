//! Why a command could not do its work: each module's own error, kept with
//! its sources, and printed once, whole, by `main`.

use onboard_cli::ops::OpsError;
use onboard_cli::serve::ServeError;
use onboard_cli::signup::SignUpError;
use onboard_cli::stack::StackError;
use onboard_cli::token::TokenError;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error(transparent)]
    Ops(#[from] OpsError),
    #[error(transparent)]
    SignUp(#[from] SignUpError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the terminal")]
    Terminal(#[from] std::io::Error),
    /// The command was asked for something it will not do; says why.
    #[error("{0}")]
    Refused(String),
}
