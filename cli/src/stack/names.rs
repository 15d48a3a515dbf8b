//! The names of a stack's resources: derived from the stack's name, given
//! one by one, or read from a deployed stack's Outputs.

use std::collections::{BTreeMap, HashMap};

use aws_config::SdkConfig;
use aws_sdk_cloudformation as cloudformation;
use onboard_shared::aws::Connection;
use onboard_shared::published::ParameterPrefix;

use super::{Stack, StackError};
use onboard_shared::catalogue::QueueRole;

use crate::engine::queue_roles::QueueNames;

/// What a command needs to find a stack's resources.
#[derive(Debug, Clone, clap::Args)]
pub struct StackArgs {
    /// Where to send AWS calls: a local emulator (e.g. moto's server), or
    /// unset for AWS itself with the usual profile and region settings.
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The AWS region (default: the profile's; us-east-1 for an emulator on
    /// this machine).
    #[arg(long, env = "AWS_REGION")]
    pub region: Option<String>,
    /// The AWS profile to use.
    #[arg(long, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// The name every resource name starts with.
    #[arg(long, env = "ONBOARD_STACK", default_value = "onboard", value_parser = parse_stack_name)]
    pub stack: String,
    /// The users table (default: <stack>-users).
    #[arg(long, env = "USERS_TABLE")]
    pub table: Option<String>,
    /// The archive bucket (default: <stack>-archive).
    #[arg(long, env = "ARCHIVE_BUCKET")]
    pub bucket: Option<String>,
    /// The user pool's id (default: the pool named <stack>-users).
    #[arg(long, env = "ONBOARD_USER_POOL_ID")]
    pub user_pool_id: Option<String>,
    /// The web app client's id: the hosted UI's and the page's (default:
    /// the client named <stack>-web).
    #[arg(long, alias = "client-id", env = "ONBOARD_WEB_CLIENT_ID")]
    pub web_client_id: Option<String>,
    /// The CLI's app client's id: `onboard token`'s and `onboard me`'s
    /// (default: the client named <stack>-cli).
    #[arg(long, env = "ONBOARD_CLI_CLIENT_ID")]
    pub cli_client_id: Option<String>,
    /// The identity pool's id: `onboard credentials`'s (default: the
    /// deployed stack's IdentityPoolId output, else the pool named
    /// <stack>-identities).
    #[arg(long, env = "ONBOARD_IDENTITY_POOL_ID")]
    pub identity_pool_id: Option<String>,
    /// Where the users' names live (default: the deployed stack's
    /// ParameterPrefix output, else /<stack>).
    #[arg(long, env = "PARAMETER_PREFIX", value_parser = ParameterPrefix::parse)]
    pub parameter_prefix: Option<ParameterPrefix>,
}

/// The Outputs of a deployed stack that `onboard` reads besides the queues'
/// ([`QueueRole::output_key`]).
const RESOURCE_OUTPUT_KEYS: [&str; 7] = [
    "UsersTableName",
    "ArchiveBucketName",
    "UserPoolId",
    "UserPoolClientId",
    "CliClientId",
    "IdentityPoolId",
    "ParameterPrefix",
];

/// Every Output of a deployed stack that `onboard` reads: the contract
/// between `infra/template.yaml` and this command.
pub fn output_keys() -> impl Iterator<Item = &'static str> {
    RESOURCE_OUTPUT_KEYS
        .into_iter()
        .chain(QueueRole::ALL.map(QueueRole::output_key))
}

/// Where a stack's names live when nothing says otherwise: `/<stack>`
/// (`/onboard` for the default stack), or `/onboard/<stack>` for a stack
/// whose name Parameter Store reserves (`aws…`, `ssm…`). Each stack its
/// own: the names have one writer per prefix.
pub fn default_parameter_prefix(stack: &str) -> ParameterPrefix {
    ParameterPrefix::parse(&format!("/{stack}"))
        .or_else(|_| ParameterPrefix::parse(&format!("/onboard/{stack}")))
        .unwrap_or_else(|_| unreachable!("a stack name is a valid path segment"))
}

/// A stack name that cannot start bucket and queue names.
#[derive(Debug, thiserror::Error)]
#[error("use 1 to 40 lowercase letters, digits and inner '-' (it starts bucket and queue names)")]
pub struct BadStackName;

fn parse_stack_name(raw: &str) -> Result<String, BadStackName> {
    let valid = (1..=40).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !raw.starts_with('-')
        && !raw.ends_with('-');
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(BadStackName)
    }
}

impl StackArgs {
    pub fn connection(&self) -> Connection {
        Connection {
            endpoint_url: self.endpoint_url.clone(),
            region: self.region.clone(),
            profile: self.profile.clone(),
        }
    }

    /// The stack's derived names, with the ones given one by one in place.
    pub fn names(&self) -> Names {
        self.given_over(Names::for_stack(
            &self.stack,
            default_parameter_prefix(&self.stack),
        ))
    }

    /// The stack's names: those given one by one, else the deployed stack's
    /// Outputs, else the derived ones; and the SDK config that found them.
    pub async fn resolve(&self) -> Result<(SdkConfig, Names), StackError> {
        let resolved = self.resolve_deployed().await?;
        Ok((resolved.sdk, resolved.names))
    }

    /// [`StackArgs::resolve`], whether a stack of that name is deployed (its
    /// Outputs gave the names), and who the calls are made as.
    pub async fn resolve_deployed(&self) -> Result<Resolved, StackError> {
        let sdk = self.connection().load().await;
        let caller = match super::caller(&sdk).await {
            Ok(caller) => caller,
            Err(StackError::Credentials(line)) if self.endpoint_url.is_none() => {
                return Err(StackError::Credentials(super::local::with_endpoint_hint(
                    line,
                )));
            }
            Err(err) => return Err(err),
        };
        if self.connection().is_loopback()
            && let Some(url) = &self.endpoint_url
        {
            super::local::remember_endpoint(url);
        }
        let derived = Names::for_stack(&self.stack, default_parameter_prefix(&self.stack));
        let (names, deployed) =
            match stack_outputs(&cloudformation::Client::new(&sdk), &self.stack).await? {
                Some(outputs) => (derived.with_outputs(&self.stack, &outputs)?, true),
                None => (derived, false),
            };
        Ok(Resolved {
            names: self.given_over(names),
            sdk,
            deployed,
            caller,
        })
    }

    /// Finds the stack's resources ([`StackArgs::resolve`]) and connects.
    pub async fn connect(&self) -> Result<Stack, StackError> {
        let (sdk, names) = self.resolve().await?;
        Stack::from_config(sdk, names).await
    }

    fn given_over(&self, mut names: Names) -> Names {
        if let Some(prefix) = &self.parameter_prefix {
            names.parameter_prefix = prefix.clone();
        }
        if let Some(table) = &self.table {
            names.table.clone_from(table);
        }
        if let Some(bucket) = &self.bucket {
            names.bucket.clone_from(bucket);
        }
        if let Some(id) = &self.user_pool_id {
            names.user_pool_id = Some(id.clone());
        }
        if let Some(id) = &self.web_client_id {
            names.web_client_id = Some(id.clone());
        }
        if let Some(id) = &self.cli_client_id {
            names.cli_client_id = Some(id.clone());
        }
        if let Some(id) = &self.identity_pool_id {
            names.identity_pool_id = Some(id.clone());
        }
        names
    }
}

/// A stack's names, found, with the SDK config that found them.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub sdk: SdkConfig,
    pub names: Names,
    /// True when a deployed stack's Outputs gave the names.
    pub deployed: bool,
    /// Who the calls are made as (checked before anything else).
    pub caller: super::Caller,
}

/// The names of a stack's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub table: String,
    pub bucket: String,
    /// Each queue's name, by role.
    pub queues: BTreeMap<QueueRole, String>,
    pub user_pool: String,
    /// The app client of the hosted UI and the page.
    pub web_client: String,
    /// The app client of `onboard token` and `onboard me`.
    pub cli_client: String,
    /// Set when the pool and its clients are known by id rather than by
    /// name.
    pub user_pool_id: Option<String>,
    pub web_client_id: Option<String>,
    pub cli_client_id: Option<String>,
    /// The identity pool that gives a person their own credentials.
    pub identity_pool: String,
    pub identity_pool_id: Option<String>,
    pub parameter_prefix: ParameterPrefix,
}

impl Names {
    /// Every name derived from the stack name.
    pub fn for_stack(stack: &str, parameter_prefix: ParameterPrefix) -> Self {
        Self {
            table: format!("{stack}-users"),
            bucket: format!("{stack}-archive"),
            queues: QueueRole::ALL
                .into_iter()
                .map(|role| (role, role.bootstrapped_name(stack)))
                .collect(),
            user_pool: format!("{stack}-users"),
            web_client: format!("{stack}-web"),
            cli_client: format!("{stack}-cli"),
            user_pool_id: None,
            web_client_id: None,
            cli_client_id: None,
            identity_pool: format!("{stack}-identities"),
            identity_pool_id: None,
            parameter_prefix,
        }
    }
}

impl Names {
    /// The name of the queue with this role.
    pub fn queue(&self, role: QueueRole) -> &str {
        self.queues.get(&role).map_or("", String::as_str)
    }

    /// The stack's queues by name.
    pub fn queue_names(&self) -> QueueNames {
        QueueNames::of(&self.queues)
    }

    /// These names with the ones a deployed stack's Outputs give in place.
    pub fn with_outputs(
        mut self,
        stack: &str,
        outputs: &HashMap<String, String>,
    ) -> Result<Self, StackError> {
        let bad = |key: &str, reason: String| StackError::BadOutput {
            stack: stack.to_owned(),
            key: key.to_owned(),
            reason,
        };
        for (key, value) in outputs {
            let value = value.trim();
            // A queue URL ends in the queue's name.
            let queue = || {
                value
                    .rsplit('/')
                    .next()
                    .filter(|name| !name.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| bad(key, format!("`{value}` is not a queue URL")))
            };
            if let Some(role) = QueueRole::ALL.into_iter().find(|r| r.output_key() == key) {
                self.queues.insert(role, queue()?);
                continue;
            }
            match key.as_str() {
                "UsersTableName" => self.table = value.to_owned(),
                "ArchiveBucketName" => self.bucket = value.to_owned(),
                "UserPoolId" => self.user_pool_id = Some(value.to_owned()),
                "UserPoolClientId" => self.web_client_id = Some(value.to_owned()),
                "CliClientId" => self.cli_client_id = Some(value.to_owned()),
                "IdentityPoolId" => self.identity_pool_id = Some(value.to_owned()),
                "ParameterPrefix" => {
                    self.parameter_prefix =
                        ParameterPrefix::parse(value).map_err(|err| bad(key, err.to_string()))?;
                }
                _ => {}
            }
        }
        Ok(self)
    }
}

/// A deployed stack's Outputs, or `None` when no stack of that name exists.
pub async fn stack_outputs(
    client: &cloudformation::Client,
    stack: &str,
) -> Result<Option<HashMap<String, String>>, StackError> {
    match client.describe_stacks().stack_name(stack).send().await {
        Ok(found) => Ok(found.stacks().first().map(|deployed| {
            deployed
                .outputs()
                .iter()
                .filter_map(|output| {
                    Some((
                        output.output_key()?.to_owned(),
                        output.output_value()?.to_owned(),
                    ))
                })
                .collect()
        })),
        // CloudFormation says so in a ValidationError, not in a type of its own.
        Err(err)
            if err
                .as_service_error()
                .and_then(|e| e.meta().message())
                .is_some_and(|message| message.contains("does not exist")) =>
        {
            Ok(None)
        }
        Err(err) => Err(StackError::call(format!("DescribeStacks {stack}"), err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names_must_fit_bucket_and_queue_names() {
        for good in ["onboard", "dev-2", "a"] {
            assert!(parse_stack_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Onboard", "-x", "x-", "a_b", &"x".repeat(41)] {
            assert!(parse_stack_name(bad).is_err(), "{bad:?}");
        }
    }
}
