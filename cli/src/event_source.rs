//! Lambda's event-source rules for a DynamoDB stream, shared by the embedded
//! pipeline (`onboard replay`) and the local Lambda service (`onboard dev`).
//!
//! Lambda hands the router a batch of stream records. When the router reports
//! a partial failure, Lambda checkpoints up to the lowest failed sequence
//! number and retries the batch from there, a bounded number of times; then
//! it sends what still fails to the on-failure destination (the router's
//! dead-letter queue) and moves on, so one bad record never holds the shard.

use std::time::Duration;

use onboard_shared::batch::{self, DeadLetter, Fate, ItemReport};
use serde_json::value::RawValue;
use stream_router::Router;

/// What the poller writes as the source of the dead letters it sends.
pub const STREAM_POLLER: &str = "stream-poller";

/// Routes records in batches of `batch_size`, each as Lambda's stream
/// poller would (see [`route_stream_batch`]), and returns the final fate of
/// every record, in order.
pub async fn route_stream(
    router: &Router,
    records: &[Box<RawValue>],
    batch_size: usize,
    max_retries: u32,
    retry_delay: Duration,
) -> Vec<ItemReport> {
    let mut fates = Vec::with_capacity(records.len());
    for batch in records.chunks(batch_size.max(1)) {
        fates.extend(route_stream_batch(router, batch, max_retries, retry_delay).await);
    }
    fates
}

/// Routes one batch as Lambda's stream poller would, waiting `retry_delay`
/// before each retry, and returns the final fate of every record, in order.
pub async fn route_stream_batch(
    router: &Router,
    batch: &[Box<RawValue>],
    max_retries: u32,
    retry_delay: Duration,
) -> Vec<ItemReport> {
    let mut fates: Vec<Option<ItemReport>> = vec![None; batch.len()];
    let mut start = 0;
    let mut retries = 0;
    loop {
        let report = stream_router::handle(router, &batch[start..]).await;
        // Lambda checkpoints up to the lowest failed record; all of it
        // counts as failed when the invocation itself failed.
        let whole_batch_failed = report.stream_response().is_err();
        let lowest = if whole_batch_failed {
            Some(0)
        } else {
            report
                .lowest_failed_sequence_number()
                .and_then(|lowest| report.items.iter().position(|item| item.id == lowest))
        };
        let done = lowest.unwrap_or(report.items.len());
        for (offset, item) in report.items.iter().enumerate().take(done) {
            fates[start + offset] = Some(item.clone());
        }
        let Some(failed_at) = lowest else { break };
        if retries < max_retries {
            retries += 1;
            start += failed_at;
            if !retry_delay.is_zero() {
                tokio::time::sleep(retry_delay).await;
            }
            continue;
        }
        // Retries exhausted: the rest goes to the on-failure destination.
        let rest = &report.items[failed_at..];
        let letters = rest
            .iter()
            .enumerate()
            .map(|(offset, item)| DeadLetter {
                index: offset,
                body: batch[start + failed_at + offset].get().to_owned(),
                reason: match &item.fate {
                    Fate::Failed { reason } => format!("retries exhausted: {reason}"),
                    _ => "retries exhausted after an earlier record failed".to_owned(),
                },
            })
            .collect();
        let mut tail = batch::BatchReport {
            items: rest.to_vec(),
        };
        batch::dead_letter(
            router.dead_letters.as_ref(),
            STREAM_POLLER,
            letters,
            &mut tail,
        )
        .await;
        for (offset, item) in tail.items.into_iter().enumerate() {
            fates[start + failed_at + offset] = Some(item);
        }
        break;
    }
    fates.into_iter().flatten().collect()
}
