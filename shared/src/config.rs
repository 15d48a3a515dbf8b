//! Typed configuration, read once from the environment at start.
//!
//! Each function has its own config struct; `from_env` fails with a message
//! that names the missing or invalid variable, so a misconfigured function
//! fails its init instead of its first invocation. The readers take a lookup
//! function, so tests never touch the process environment.

use std::time::Duration;

use crate::published::ParameterPrefix;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("the environment variable {var} is not set ({what})")]
    Missing {
        var: &'static str,
        what: &'static str,
    },
    #[error("the environment variable {var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
}

/// Where config values come from: the process environment in production.
pub trait Lookup {
    fn get(&self, var: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn get(&self, var: &str) -> Option<String> {
        self(var).filter(|value| !value.trim().is_empty())
    }
}

/// The process environment.
pub fn process_env(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

pub(crate) fn required(
    env: &impl Lookup,
    var: &'static str,
    what: &'static str,
) -> Result<String, ConfigError> {
    env.get(var).ok_or(ConfigError::Missing { var, what })
}

fn parsed<T: std::str::FromStr>(
    env: &impl Lookup,
    var: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env.get(var) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|err: T::Err| ConfigError::Invalid {
                var,
                reason: format!("`{raw}`: {err}"),
            }),
    }
}

fn prefix(env: &impl Lookup) -> Result<ParameterPrefix, ConfigError> {
    let raw = required(
        env,
        "PARAMETER_PREFIX",
        "the path under which users' parameters live, e.g. /onboard",
    )?;
    ParameterPrefix::parse(&raw).map_err(|err| ConfigError::Invalid {
        var: "PARAMETER_PREFIX",
        reason: err.to_string(),
    })
}

/// Whether S3 must be addressed path-style (emulators need it).
fn force_path_style(env: &impl Lookup) -> Result<bool, ConfigError> {
    parsed(
        env,
        "S3_FORCE_PATH_STYLE",
        env.get("AWS_ENDPOINT_URL").is_some(),
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostConfirmationConfig {
    pub users_table: String,
}

impl PostConfirmationConfig {
    pub fn from_env(env: impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            users_table: required(&env, "USERS_TABLE", "the DynamoDB users table")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    pub archive_queue_url: String,
    pub publish_queue_url: String,
    /// Where records that can never be routed go, with their reason.
    pub dead_letter_queue_url: String,
}

impl RouterConfig {
    pub fn from_env(env: impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            archive_queue_url: required(&env, "ARCHIVE_QUEUE_URL", "the archive queue's URL")?,
            publish_queue_url: required(&env, "PUBLISH_QUEUE_URL", "the publish queue's URL")?,
            dead_letter_queue_url: required(
                &env,
                "DEAD_LETTER_QUEUE_URL",
                "the router's dead-letter queue URL",
            )?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveConfig {
    pub bucket: String,
    pub dead_letter_queue_url: String,
    pub force_path_style: bool,
}

impl ArchiveConfig {
    pub fn from_env(env: impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            bucket: required(&env, "ARCHIVE_BUCKET", "the archive bucket")?,
            dead_letter_queue_url: required(
                &env,
                "DEAD_LETTER_QUEUE_URL",
                "the archive queue's DLQ URL",
            )?,
            force_path_style: force_path_style(&env)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PublishConfig {
    pub parameter_prefix: ParameterPrefix,
    /// The queue the writer drains (and carries its unwritten names back to).
    pub publish_queue_url: String,
    pub dead_letter_queue_url: String,
    /// The writes a second the writer makes: Parameter Store's account
    /// rate, less what the account's own writes need.
    pub max_writes_per_second: f64,
    /// How many standard parameters the names may use (the rest of the
    /// standard tier is the account's own); past it, advanced ones.
    pub standard_share: usize,
}

impl PublishConfig {
    pub fn from_env(env: impl Lookup) -> Result<Self, ConfigError> {
        let max_writes_per_second: f64 = parsed(&env, "MAX_WRITES_PER_SECOND", 3.0)?;
        if !(max_writes_per_second > 0.0 && max_writes_per_second.is_finite()) {
            return Err(ConfigError::Invalid {
                var: "MAX_WRITES_PER_SECOND",
                reason: "must be a positive number".to_owned(),
            });
        }
        let standard_share: usize = parsed(&env, "STANDARD_PARAMETER_SHARE", 5_000)?;
        if !(1..=10_000).contains(&standard_share) {
            return Err(ConfigError::Invalid {
                var: "STANDARD_PARAMETER_SHARE",
                reason: "must be 1 to 10000, the standard parameters of an account and Region"
                    .to_owned(),
            });
        }
        Ok(Self {
            parameter_prefix: prefix(&env)?,
            publish_queue_url: required(&env, "PUBLISH_QUEUE_URL", "the publish queue's URL")?,
            dead_letter_queue_url: required(
                &env,
                "DEAD_LETTER_QUEUE_URL",
                "the publish queue's DLQ URL",
            )?,
            max_writes_per_second,
            standard_share,
        })
    }
}

/// The account function's: the table it writes, the pool it keeps in step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    pub users_table: String,
    pub user_pool_id: String,
    /// The browser origin allowed to read the API's answers (`*` for any).
    pub allowed_origin: Option<String>,
}

impl AccountConfig {
    pub fn from_env(env: impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            users_table: required(&env, "USERS_TABLE", "the DynamoDB users table")?,
            user_pool_id: required(&env, "USER_POOL_ID", "the Cognito user pool")?,
            allowed_origin: env.get("ALLOWED_ORIGIN"),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreetingConfig {
    pub parameter_prefix: ParameterPrefix,
    /// How long a name read from the parameter store is reused.
    pub cache_ttl: Duration,
    /// The browser origin allowed to read the API's answers (`*` for any).
    pub allowed_origin: Option<String>,
    /// The users table and the archive, read for a caller ahead of the
    /// published names and for `GET /me/data`.
    pub accounts: Option<AccountsRead>,
}

/// Where the greeting reads a user's own row and archived object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountsRead {
    pub users_table: String,
    pub archive_bucket: String,
    pub force_path_style: bool,
}

impl GreetingConfig {
    pub fn from_env(env: impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            parameter_prefix: prefix(&env)?,
            cache_ttl: Duration::from_secs(parsed(&env, "NAME_CACHE_SECONDS", 60)?),
            allowed_origin: env.get("ALLOWED_ORIGIN"),
            accounts: Some(AccountsRead {
                users_table: required(&env, "USERS_TABLE", "the DynamoDB users table")?,
                archive_bucket: required(&env, "ARCHIVE_BUCKET", "the archive bucket")?,
                force_path_style: force_path_style(&env)?,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |var| {
            pairs
                .iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn a_missing_variable_is_named_in_the_error() {
        let err = RouterConfig::from_env(env(&[("ARCHIVE_QUEUE_URL", "a")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the environment variable PUBLISH_QUEUE_URL is not set (the publish queue's URL)"
        );
    }

    #[test]
    fn an_empty_variable_counts_as_missing() {
        let err = PostConfirmationConfig::from_env(env(&[("USERS_TABLE", " ")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Missing {
                var: "USERS_TABLE",
                ..
            }
        ));
    }

    #[test]
    fn numbers_are_parsed_with_defaults() {
        let base = [
            ("PARAMETER_PREFIX", "/onboard"),
            ("PUBLISH_QUEUE_URL", "q"),
            ("DEAD_LETTER_QUEUE_URL", "d"),
        ];
        let config = PublishConfig::from_env(env(&base)).unwrap();
        assert_eq!(config.max_writes_per_second, 3.0);
        assert_eq!(config.standard_share, 5_000);
        let with = |extra: (&'static str, &'static str)| {
            PublishConfig::from_env(env(&[base[0], base[1], base[2], extra]))
        };
        assert!(matches!(
            with(("MAX_WRITES_PER_SECOND", "fast")).unwrap_err(),
            ConfigError::Invalid {
                var: "MAX_WRITES_PER_SECOND",
                ..
            }
        ));
        assert!(with(("MAX_WRITES_PER_SECOND", "0")).is_err());
        for share in ["0", "10001", "half"] {
            assert!(
                with(("STANDARD_PARAMETER_SHARE", share)).is_err(),
                "{share}"
            );
        }
    }

    #[test]
    fn path_style_follows_a_custom_endpoint() {
        let base = [("ARCHIVE_BUCKET", "b"), ("DEAD_LETTER_QUEUE_URL", "d")];
        assert!(
            !ArchiveConfig::from_env(env(&base))
                .unwrap()
                .force_path_style
        );
        let emulator = [
            base[0],
            base[1],
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ];
        assert!(
            ArchiveConfig::from_env(env(&emulator))
                .unwrap()
                .force_path_style
        );
    }
}
