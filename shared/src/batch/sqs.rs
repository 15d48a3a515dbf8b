//! An SQS batch of change messages, decoded one message at a time.

use aws_lambda_events::event::sqs::SqsEvent;

use super::{Outcome, ReasonClass, Settlement, Ticket};
use crate::domain::ChangeMessage;
use crate::reason::Reason;

/// An SQS batch of change messages, decoded: the settlement of the whole
/// batch (the messages that do not decode already refused), and the ones
/// that decode, each with its ticket.
#[derive(Debug)]
pub struct DecodedBatch<'a> {
    pub settlement: Settlement<'a>,
    pub messages: Vec<(Ticket, ChangeMessage)>,
}

/// Decodes every message of an SQS batch on its own.
pub fn decode_sqs(event: &SqsEvent) -> DecodedBatch<'_> {
    let mut settlement = Settlement::new();
    let mut messages = Vec::with_capacity(event.records.len());
    for record in &event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or_default();
        let ticket = settlement.arrive(id, body);
        match ChangeMessage::from_json(body) {
            Ok(mut message) => {
                message.trace_header = record
                    .attributes
                    .get(crate::wire::TRACE_MESSAGE_ATTRIBUTE)
                    .cloned();
                settlement.carries(ticket, &message);
                messages.push((ticket, message));
            }
            Err(err) => settlement.settle(
                ticket,
                Outcome::Reject(
                    ReasonClass::Unreadable,
                    Reason::of_error(&err).after("the body is not a change message: "),
                ),
            ),
        }
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
