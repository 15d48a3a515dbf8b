//! Parameter Store, with its writes (puts and deletes) paced to the
//! account's rate.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_smithy_runtime_api::client::result::SdkError;
use tokio::sync::Mutex as AsyncMutex;
use tokio::time::Instant;

use super::classify;
use crate::error::PortError;
use crate::parameter_tier::Tier;
use crate::ports::{NamesStore, ParameterStore};

/// Spaces calls evenly: at most one per interval, the first at once.
#[derive(Debug)]
pub struct Pacer {
    /// The earliest time the next call may start.
    next: AsyncMutex<Option<Instant>>,
    interval: Duration,
}

impl Pacer {
    pub fn per_second(rate: f64) -> Self {
        let interval = if rate > 0.0 {
            Duration::from_secs_f64(1.0 / rate)
        } else {
            Duration::ZERO
        };
        Self {
            next: AsyncMutex::new(None),
            interval,
        }
    }

    /// Waits for this call's turn.
    pub async fn wait(&self) {
        let mut next = self.next.lock().await;
        if let Some(at) = *next {
            tokio::time::sleep_until(at).await;
        }
        *next = Some(Instant::now() + self.interval);
    }
}

/// SSM Parameter Store, with writes paced to stay under its write rate.
#[derive(Debug)]
pub struct SsmParameters {
    client: aws_sdk_ssm::Client,
    pacer: Pacer,
}

impl SsmParameters {
    /// `max_writes_per_second` paces `PutParameter` calls of this instance.
    pub fn new(client: aws_sdk_ssm::Client, max_writes_per_second: f64) -> Self {
        Self {
            client,
            pacer: Pacer::per_second(max_writes_per_second),
        }
    }
}

#[async_trait]
impl ParameterStore for SsmParameters {
    async fn get(&self, name: &str) -> Result<Option<String>, PortError> {
        match self.client.get_parameter().name(name).send().await {
            Ok(output) => Ok(output.parameter.and_then(|p| p.value)),
            Err(SdkError::ServiceError(context)) if context.err().is_parameter_not_found() => {
                Ok(None)
            }
            Err(err) => Err(classify("GetParameter", err)),
        }
    }

    async fn put(&self, name: &str, value: &str) -> Result<(), PortError> {
        self.pacer.wait().await;
        self.client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| classify("PutParameter", err))
    }
}

impl SsmParameters {
    /// One `GetParameters` call: the parameters of those names that exist.
    async fn get_parameters(
        &self,
        names: &[String],
    ) -> Result<Vec<aws_sdk_ssm::types::Parameter>, PortError> {
        let output = self
            .client
            .get_parameters()
            .set_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(|err| classify("GetParameters", err))?;
        Ok(output.parameters.unwrap_or_default())
    }
}

#[async_trait]
impl NamesStore for SsmParameters {
    async fn get_many(&self, names: &[String]) -> Result<BTreeMap<String, String>, PortError> {
        Ok(self
            .get_parameters(names)
            .await?
            .into_iter()
            .filter_map(|p| Some((p.name?, p.value?)))
            .collect())
    }

    async fn modified_at(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, chrono::DateTime<chrono::Utc>>, PortError> {
        Ok(self
            .get_parameters(names)
            .await?
            .into_iter()
            .filter_map(|p| {
                let at = p.last_modified_date?;
                let at = chrono::DateTime::from_timestamp(at.secs(), at.subsec_nanos())?;
                Some((p.name?, at))
            })
            .collect())
    }

    async fn put_tiered(&self, name: &str, value: &str, tier: Tier) -> Result<(), PortError> {
        self.pacer.wait().await;
        let tier = match tier {
            Tier::Standard => aws_sdk_ssm::types::ParameterTier::Standard,
            Tier::Advanced => aws_sdk_ssm::types::ParameterTier::Advanced,
        };
        self.client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .tier(tier)
            .overwrite(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| classify("PutParameter", err))
    }

    async fn delete_many(&self, names: &[String]) -> Result<(), PortError> {
        self.pacer.wait().await;
        self.client
            .delete_parameters()
            .set_names(Some(names.to_vec()))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| classify("DeleteParameters", err))
    }
}
