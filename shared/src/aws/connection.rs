//! How the `onboard` command and the tests reach AWS or an emulator from a
//! workstation: the default chain (profiles included) and an endpoint. Only
//! with the `local` feature: a Lambda function builds its config from its
//! environment alone (`lambda_config`).

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};

use super::https_client;

/// The SDK config loader with the default chain (environment, profile,
/// instance role) and the HTTPS client.
pub fn config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(https_client())
}

/// Where the `onboard` command and the tests send their calls: real AWS
/// through the usual profile and region settings, or an endpoint such as a
/// local emulator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    /// Every service at this URL (`AWS_ENDPOINT_URL`), else AWS itself.
    pub endpoint_url: Option<String>,
    /// Else the default chain (`AWS_REGION`, the profile); for an emulator
    /// on loopback, `AWS_REGION` or [`EMULATOR_REGION`].
    pub region: Option<String>,
    /// A named profile, else the default chain.
    pub profile: Option<String>,
}

/// The region an emulator on loopback gets when nothing names one.
pub const EMULATOR_REGION: &str = "us-east-1";

impl Connection {
    /// An emulator on this machine: any credentials do, and no region needs
    /// to be configured.
    pub fn is_loopback(&self) -> bool {
        let Some(url) = &self.endpoint_url else {
            return false;
        };
        let host = url
            .split_once("://")
            .map_or(url.as_str(), |(_, rest)| rest)
            .split(['/', '?'])
            .next()
            .unwrap_or_default();
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host.rsplit_once(':').map_or(host, |(host, _)| host),
        };
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// Loads the SDK config once. On a loopback endpoint with no credentials
    /// in the environment or a profile, placeholder credentials are used, so
    /// a fresh machine can talk to a local emulator with no set-up.
    pub async fn load(&self) -> SdkConfig {
        let mut loader = config_loader();
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        let loopback = self.is_loopback();
        // An emulator needs a region but has no instance metadata to ask.
        let region = self.region.clone().or_else(|| {
            loopback.then(|| {
                ["AWS_REGION", "AWS_DEFAULT_REGION"]
                    .into_iter()
                    .find_map(|var| std::env::var(var).ok().filter(|r| !r.is_empty()))
                    .unwrap_or_else(|| EMULATOR_REGION.to_owned())
            })
        });
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region));
        }
        let configured = self.profile.is_some()
            || std::env::var_os("AWS_ACCESS_KEY_ID").is_some()
            || std::env::var_os("AWS_PROFILE").is_some();
        if loopback && !configured {
            loader = loader.credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "onboard-local",
                "onboard-local",
                None,
                None,
                "onboard-emulator",
            ));
        }
        loader.load().await
    }
}
