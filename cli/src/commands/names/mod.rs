//! `onboard names`: the published names. `migrate` moves a stack's
//! one-parameter-a-user names (`/<prefix>/users/<id>/name`, the layout of
//! before) into the packed names through the one writer: it sends them into
//! the publish queue, waits until the packed names hold each one (at its
//! revision or a newer one), then deletes the old parameters it saw packed.
//! Every step is idempotent: cut short, it is run again; the greeting reads
//! the old layout for a user the packed names do not hold yet.

pub mod command;

use std::time::Duration;

use onboard_shared::domain::UserId;
use onboard_shared::names::{Entry, Layout, NamesPaths, layout_of};
use onboard_shared::ports::Inbox;
use onboard_shared::published::PublishedName;
use publish_consumer::writer::Carried;

use crate::stack::Stack;
use crate::stack::sqs_calls::{CallError, call};
use crate::stack::ssm_calls::{delete_parameters, parameters_under};

/// Pauses between Parameter Store calls: reads share the account's ~40 a
/// second with the greeting, deletes its ~3 writes a second with the writer.
const READ_PAUSE: Duration = Duration::from_millis(100);
const DELETE_PAUSE: Duration = Duration::from_millis(1_000);

/// Names a message carries to the writer.
const NAMES_PER_MESSAGE: usize = 50;

/// A user's name in the one-parameter-a-user layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldName {
    pub parameter: String,
    pub user: UserId,
    pub entry: Entry,
}

/// What the old layout holds.
#[derive(Debug, Default)]
pub struct OldLayout {
    pub names: Vec<OldName>,
    /// Parameters under the old path that are not a name it wrote: left alone.
    pub unreadable: Vec<String>,
}

/// The old layout's names, read from `/<prefix>/users`.
pub async fn old_names(stack: &Stack) -> Result<OldLayout, CallError> {
    let prefix = &stack.names.parameter_prefix;
    let base = prefix.users_path();
    let mut layout = OldLayout::default();
    for (parameter, value) in parameters_under(&stack.ssm, &base, READ_PAUSE).await? {
        let user = parameter
            .strip_prefix(&format!("{base}/"))
            .and_then(|rest| rest.strip_suffix("/name"))
            .and_then(|id| UserId::parse(id).ok())
            .filter(|user| prefix.name_parameter(user) == parameter);
        match (user, PublishedName::parse(&value)) {
            (Some(user), Ok(published)) => layout.names.push(OldName {
                parameter,
                user,
                entry: Entry {
                    revision: published.revision(),
                    name: published.name,
                },
            }),
            _ => layout.unreadable.push(parameter),
        }
    }
    Ok(layout)
}

/// The packed names as they are now.
pub async fn packed(stack: &Stack) -> Result<Layout, CallError> {
    let paths = NamesPaths::new(&stack.names.parameter_prefix);
    let parameters: std::collections::BTreeMap<String, String> = parameters_under(
        &stack.ssm,
        &stack.names.parameter_prefix.names_path(),
        READ_PAUSE,
    )
    .await?
    .into_iter()
    .collect();
    Ok(layout_of(&paths, &parameters))
}

/// The old names the packed names do not hold yet (at their revision or
/// a newer one).
pub fn not_packed<'a>(old: &'a [OldName], packed: &Layout) -> Vec<&'a OldName> {
    old.iter()
        .filter(|name| {
            packed
                .entry(&name.user)
                .is_none_or(|held| held.revision < name.entry.revision)
        })
        .collect()
}

/// Sends names into the publish queue, for the writer to pack.
pub async fn send(stack: &Stack, names: &[&OldName], now: u64) -> Result<(), CallError> {
    let queue = stack.publish_queue();
    let bodies: Vec<String> = names
        .chunks(NAMES_PER_MESSAGE)
        .map(|chunk| {
            let entries = chunk
                .iter()
                .map(|name| (name.user.clone(), name.entry.clone()))
                .collect();
            serde_json::to_string(&Carried::unplaced(entries, now)).unwrap_or_default()
        })
        .collect();
    for chunk in bodies.chunks(10) {
        queue
            .send(chunk)
            .await
            .map_err(|err| call("SendMessageBatch (the publish queue)", err))?;
    }
    Ok(())
}

/// Deletes the old parameters of names the packed names now hold.
pub async fn remove(stack: &Stack, names: &[&OldName]) -> Result<(), CallError> {
    let parameters: Vec<String> = names.iter().map(|name| name.parameter.clone()).collect();
    delete_parameters(&stack.ssm, &parameters, DELETE_PAUSE).await
}
