//! The Parameter Store calls the commands make themselves (the functions'
//! go through their ports): every parameter under a path, and deletes.

use std::time::Duration;

use onboard_shared::aws::ssm;
use onboard_shared::ports::NAMES_PER_CALL;

use super::sqs_calls::{CallError, call};

/// Every parameter under `path` (all its levels), name and value, a
/// `GetParametersByPath` page at a time, `pause` apart: reads share the
/// account's rate (about 40 a second) with the greeting.
pub async fn parameters_under(
    client: &ssm::Client,
    path: &str,
    pause: Duration,
) -> Result<Vec<(String, String)>, CallError> {
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .get_parameters_by_path()
            .path(path)
            .recursive(true)
            .set_next_token(token)
            .send()
            .await
            .map_err(|err| call(format!("GetParametersByPath {path}"), err))?;
        for parameter in page.parameters() {
            if let (Some(name), Some(value)) = (parameter.name(), parameter.value()) {
                found.push((name.to_owned(), value.to_owned()));
            }
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(found);
        }
        tokio::time::sleep(pause).await;
    }
}

/// Deletes parameters, ten a call, `pause` apart (deletes share the
/// account's write rate); a name that does not exist is no error.
pub async fn delete_parameters(
    client: &ssm::Client,
    names: &[String],
    pause: Duration,
) -> Result<(), CallError> {
    for (index, chunk) in names.chunks(NAMES_PER_CALL).enumerate() {
        if index > 0 {
            tokio::time::sleep(pause).await;
        }
        client
            .delete_parameters()
            .set_names(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|err| call("DeleteParameters", err))?;
    }
    Ok(())
}
