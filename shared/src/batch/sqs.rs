//! An SQS batch of change messages, decoded one message at a time.

use std::collections::BTreeMap;

use aws_lambda_events::event::sqs::SqsEvent;

use super::{BatchReport, Fate, ItemReport, Settlement};
use crate::domain::{ChangeMessage, UserId};

/// An SQS batch of change messages, decoded: the settlement of the whole
/// batch (the messages that do not decode already refused), and the ones
/// that decode, by their index.
#[derive(Debug)]
pub struct DecodedBatch<'a> {
    pub settlement: Settlement<'a>,
    pub messages: Vec<(usize, ChangeMessage)>,
}

impl DecodedBatch<'_> {
    /// The decoded messages grouped by user, each group in arrival order:
    /// both consumers settle one user's changes together.
    pub fn take_by_user(&mut self) -> BTreeMap<UserId, Vec<(usize, ChangeMessage)>> {
        let mut by_user: BTreeMap<UserId, Vec<(usize, ChangeMessage)>> = BTreeMap::new();
        for (index, message) in std::mem::take(&mut self.messages) {
            by_user
                .entry(message.user_id().clone())
                .or_default()
                .push((index, message));
        }
        by_user
    }
}

/// Decodes every message of an SQS batch on its own.
pub fn decode_sqs(event: &SqsEvent) -> DecodedBatch<'_> {
    let mut report = BatchReport::default();
    let mut messages = Vec::new();
    let mut refused = Vec::new();
    let mut arrived = Vec::with_capacity(event.records.len());
    for (index, record) in event.records.iter().enumerate() {
        let id = record.message_id.clone().unwrap_or_default();
        let pending = Fate::Failed {
            reason: "not settled".to_owned(),
        };
        let body = record.body.as_deref().unwrap_or_default();
        arrived.push(body);
        match ChangeMessage::from_json(body) {
            Ok(mut message) => {
                message.trace_header = record
                    .attributes
                    .get(crate::telemetry::trace::SQS_ATTRIBUTE)
                    .cloned();
                report
                    .items
                    .push(ItemReport::for_message(id, &message, pending));
                messages.push((index, message));
            }
            Err(err) => {
                report.items.push(ItemReport::new(id, pending));
                refused.push((index, format!("the body is not a change message: {err}")));
            }
        }
    }
    let mut settlement = Settlement::new(arrived, report);
    for (index, reason) in refused {
        settlement.settle(
            index,
            super::Outcome::Reject(super::ReasonClass::Unreadable, reason),
        );
    }
    DecodedBatch {
        settlement,
        messages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARCHIVE_BATCH: &str = include_str!("../../../fixtures/sqs/changes-out-of-order.json");

    #[test]
    fn a_message_s_aws_trace_header_is_the_trace_its_change_continues() {
        let mut event: SqsEvent = serde_json::from_str(ARCHIVE_BATCH).unwrap();
        let header = "Root=1-6745a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1";
        event.records[0]
            .attributes
            .insert("AWSTraceHeader".to_owned(), header.to_owned());
        let decoded = decode_sqs(&event);
        let traces: Vec<Option<&str>> = decoded
            .messages
            .iter()
            .map(|(_, m)| m.trace_header.as_deref())
            .collect();
        assert_eq!(traces[0], Some(header));
        assert!(traces[1..].iter().all(Option::is_none), "{traces:?}");
    }
}
