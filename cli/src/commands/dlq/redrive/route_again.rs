//! The router's dead letters sent through the router again: the records
//! themselves, or the ranges Lambda gave up on, read back from the stream.

use std::time::Duration;

use onboard_shared::error::error_chain;
use serde_json::value::RawValue;

use super::{RedriveOptions, Redriven, hide_for, next_batch};
use crate::commands::dlq::peek::{Decoded, Peeked, delete, release};
use crate::commands::dlq::{Dlq, OpsError};
use crate::engine::event_source::StreamSettings;
use crate::engine::event_source::on_failure::RecordsWithReasons;
use crate::engine::event_source::stream::{Clock, StreamPoller};
use crate::stack::Stack;
use crate::stack::sqs_calls::depth;
use crate::stack::table_stream::fetch_stream_batch;

/// Sends the router's dead letters through the router again. A record that
/// is routed leaves the DLQ; one that fails for good again is replaced by a
/// new dead letter with the new reason; one that fails for now stays.
pub(super) async fn route_again(
    stack: &Stack,
    dlq: &Dlq,
    total: u64,
    options: &RedriveOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Redriven, OpsError> {
    let router = stack.router();
    // Once through the router: what fails for now stays in the DLQ.
    let poller = StreamPoller {
        settings: StreamSettings {
            maximum_retry_attempts: 0,
            ..StreamSettings::default()
        },
        clock: Clock::RecordTime,
        retry_delay: Duration::ZERO,
    };
    let destination = RecordsWithReasons(router.dead_letters.clone());
    let pacer = options
        .max_per_second
        .map(onboard_shared::aws::Pacer::per_second);
    let mut done = Redriven {
        method: "routed again",
        ..Redriven::default()
    };
    let mut handled = 0;
    while handled < total {
        let want = usize::try_from((total - handled).min(10)).unwrap_or(10);
        let messages =
            next_batch(&stack.sqs, &dlq.queue.url, want, hide_for(options, want)).await?;
        if messages.is_empty() {
            break;
        }
        if let Some(pacer) = &pacer {
            for _ in &messages {
                pacer.wait().await;
            }
        }
        let unroutable: Vec<&Peeked> = messages
            .iter()
            .filter(|m| {
                !matches!(
                    m.decoded,
                    Decoded::StreamRecord { .. } | Decoded::StreamBatchInfo { .. }
                )
            })
            .collect();
        if !unroutable.is_empty() {
            release(
                &stack.sqs,
                &dlq.queue.url,
                &messages.iter().collect::<Vec<_>>(),
            )
            .await?;
            return Err(OpsError::Refused(format!(
                "{} messages of the router's DLQ are neither stream records nor Lambda's \
                 on-failure metadata: nothing was routed, they stay",
                unroutable.len()
            )));
        }
        let mut finished = Vec::new();
        let mut waiting = Vec::new();
        for message in &messages {
            // A record as it was, or the records of a batch Lambda gave up on.
            let raw = match &message.decoded {
                Decoded::StreamBatchInfo { .. } => {
                    match recover(stack, &message.decoded, options.recovered.as_deref()).await {
                        Ok((records, saved)) => {
                            done.recovered.push(saved);
                            records
                        }
                        Err(err) => {
                            tracing::warn!(message_id = %message.message_id, error = %error_chain(&err), "could not fetch the batch from the stream");
                            done.unrecoverable += 1;
                            waiting.push(message);
                            continue;
                        }
                    }
                }
                _ => match RawValue::from_string(message.body.clone()) {
                    Ok(raw) => vec![raw],
                    Err(err) => {
                        return Err(OpsError::Refused(format!(
                            "a stream record is not JSON: {err}"
                        )));
                    }
                },
            };
            let fates = poller.deliver(&raw, &router, &destination).await;
            if fates.iter().any(|item| item.fate.is_failed()) {
                waiting.push(message);
                continue;
            }
            for item in &fates {
                if matches!(item.fate, onboard_shared::batch::Fate::DeadLettered { .. }) {
                    done.dead_lettered_again += 1;
                } else {
                    done.moved += 1;
                }
            }
            finished.push(message);
        }
        delete(&stack.sqs, &dlq.queue.url, &finished).await?;
        release(&stack.sqs, &dlq.queue.url, &waiting).await?;
        handled += messages.len() as u64;
        progress(handled, total);
        if !waiting.is_empty() {
            break;
        }
    }
    // Everything there now: what waits, and what failed again.
    done.left = depth(&stack.sqs, &dlq.queue.url).await?.visible;
    Ok(done)
}

/// Fetches the records of a batch Lambda gave up on from the stream (while
/// it still retains them, 24 hours) and saves them as a fixture.
async fn recover(
    stack: &Stack,
    info: &Decoded,
    folder: Option<&std::path::Path>,
) -> Result<(Vec<Box<RawValue>>, std::path::PathBuf), OpsError> {
    let Decoded::StreamBatchInfo {
        shard_id,
        start_sequence_number,
        end_sequence_number,
        stream_arn,
    } = info
    else {
        return Err(OpsError::Refused("not on-failure metadata".to_owned()));
    };
    let records = fetch_stream_batch(
        &aws_sdk_dynamodbstreams::Client::new(&stack.sdk),
        stream_arn,
        shard_id,
        start_sequence_number,
        end_sequence_number,
    )
    .await?;
    let folder = folder.unwrap_or(std::path::Path::new(".onboard/recovered"));
    let path = folder.join(format!(
        "{shard_id}-{start_sequence_number}-{end_sequence_number}.json"
    ));
    let document = serde_json::json!({ "Records": records });
    std::fs::create_dir_all(folder)
        .and_then(|()| std::fs::write(&path, format!("{document:#}\n")))
        .map_err(|err| OpsError::Refused(format!("saving {}: {err}", path.display())))?;
    Ok((records, path))
}
