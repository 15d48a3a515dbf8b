//! Why a command could not do its work: each module's own error, kept with
//! its sources, and printed once, whole, by `main`.

use crate::commands::dlq::OpsError;
use crate::commands::serve::ServeError;
use crate::commands::signup::SignUpError;
use crate::commands::token::TokenError;
use crate::stack::StackError;

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
    #[error(transparent)]
    Me(#[from] crate::commands::me::MeError),
    #[error(transparent)]
    Credentials(#[from] crate::commands::credentials::CredentialsError),
    #[error(transparent)]
    Call(#[from] crate::stack::sqs_calls::CallError),
    #[error("the terminal")]
    Terminal(#[from] std::io::Error),
    /// The command was asked for something it will not do; says why.
    #[error("{0}")]
    Refused(String),
}
