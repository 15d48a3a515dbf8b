//! `onboard queues`: the depth and age of every queue of the stack.

pub mod command;

use std::time::Duration;

use aws_sdk_cloudwatch as cloudwatch;
use chrono::Utc;
use serde::Serialize;

use crate::commands::dlq::{OpsError, peek};
use crate::stack::sqs_calls::depth;
use crate::stack::{QueueRef, Stack};
use onboard_shared::catalogue::QueueRole;

/// The state of one queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueStatus {
    /// `archive`, `archive-dlq`, ...
    pub queue: &'static str,
    pub name: String,
    pub url: String,
    pub is_dlq: bool,
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
    /// Seconds; absent when nothing says.
    pub oldest_age_seconds: Option<u64>,
    /// `cloudwatch` or `messages`.
    pub age_from: Option<&'static str>,
    /// A source queue's DLQ depth.
    pub dlq_depth: Option<u64>,
    pub status: String,
}

/// A source queue whose oldest message is older than this is backed up.
pub const OLD_MESSAGE: Duration = Duration::from_secs(15 * 60);

/// The state of every queue of the stack: the two source queues, then the
/// three DLQs.
pub async fn statuses(
    stack: &Stack,
    cloudwatch: &cloudwatch::Client,
) -> Result<Vec<QueueStatus>, OpsError> {
    let (sources, dlqs): (Vec<_>, Vec<_>) =
        QueueRole::ALL.into_iter().partition(|role| !role.is_dlq());
    let mut out = Vec::new();
    for role in sources.iter().chain(&dlqs) {
        out.push(status(stack, cloudwatch, stack.queues.get(*role), role.is_dlq()).await?);
    }
    for source in sources {
        let Some(dlq) = source.dlq() else { continue };
        let depth = out
            .iter()
            .find(|s| s.queue == dlq.name())
            .map(|s| s.visible);
        if let Some(status) = out.iter_mut().find(|s| s.queue == source.name()) {
            status.dlq_depth = depth;
            status.status = source_status(status);
        }
    }
    Ok(out)
}

fn source_status(status: &QueueStatus) -> String {
    let mut notes = Vec::new();
    if status.dlq_depth.unwrap_or(0) > 0 {
        notes.push(format!("{} in its DLQ", status.dlq_depth.unwrap_or(0)));
    }
    if status
        .oldest_age_seconds
        .is_some_and(|age| age >= OLD_MESSAGE.as_secs())
    {
        notes.push("backed up".to_owned());
    }
    if notes.is_empty() {
        "ok".to_owned()
    } else {
        notes.join(", ")
    }
}

async fn status(
    stack: &Stack,
    cloudwatch: &cloudwatch::Client,
    queue: &QueueRef,
    is_dlq: bool,
) -> Result<QueueStatus, OpsError> {
    let counts = depth(&stack.sqs, &queue.url).await?;
    let visible = counts.visible;
    let mut age = oldest_age_from_cloudwatch(cloudwatch, &queue.name)
        .await
        .map(|age| (age, "cloudwatch"));
    if age.is_none() && is_dlq && visible > 0 {
        age = peek(&stack.sqs, &queue.url, 100)
            .await?
            .iter()
            .filter_map(|m| m.sent)
            .min()
            .map(|oldest| {
                let age = (Utc::now() - oldest).num_seconds().max(0).unsigned_abs();
                (age, "messages")
            });
    }
    let status = if is_dlq {
        if visible == 0 {
            "ok".to_owned()
        } else {
            format!("{visible} dead letters")
        }
    } else {
        String::new()
    };
    Ok(QueueStatus {
        queue: queue.role.name(),
        name: queue.name.clone(),
        url: queue.url.clone(),
        is_dlq,
        visible,
        in_flight: counts.in_flight,
        delayed: counts.delayed,
        oldest_age_seconds: age.map(|(age, _)| age),
        age_from: age.map(|(_, from)| from),
        dlq_depth: None,
        status,
    })
}

/// The newest `ApproximateAgeOfOldestMessage` of the last ten minutes.
/// `None` when CloudWatch has no data (an idle queue, or an emulator that
/// keeps no SQS metrics) or cannot be asked.
async fn oldest_age_from_cloudwatch(client: &cloudwatch::Client, queue: &str) -> Option<u64> {
    use aws_smithy_types::DateTime as SmithyTime;
    use cloudwatch::types::{Dimension, Statistic};
    let now = Utc::now();
    let output = client
        .get_metric_statistics()
        .namespace("AWS/SQS")
        .metric_name("ApproximateAgeOfOldestMessage")
        .dimensions(Dimension::builder().name("QueueName").value(queue).build())
        .start_time(SmithyTime::from_secs(
            (now - chrono::Duration::minutes(10)).timestamp(),
        ))
        .end_time(SmithyTime::from_secs(now.timestamp()))
        .period(60)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .ok()?;
    output
        .datapoints()
        .iter()
        .filter_map(|point| Some((point.timestamp()?.secs(), point.maximum()?)))
        .max_by_key(|(at, _)| *at)
        .map(|(_, age)| age.max(0.0) as u64)
}
