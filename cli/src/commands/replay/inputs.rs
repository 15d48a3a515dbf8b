//! What a replay does with each kind of input: stream records to the
//! router, SQS messages to their consumer's queue, Cognito triggers to the
//! trigger and API Gateway requests to the greeting; then each consumer's
//! fate onto the row of the record it came from.

use onboard_shared::reason::Reason;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::ApiGatewayProxyRequest;
use aws_lambda_events::event::sqs::SqsMessage;
use onboard_shared::batch::Fate;
use onboard_shared::catalogue::Function;
use onboard_shared::domain::{ChangeKind, UserId};
use onboard_shared::telemetry::metrics::Counts;
use post_confirmation::Outcome;
use serde_json::value::RawValue;

use super::report::{Response, Row, Summary};
use super::target::Target;
use crate::engine::pipeline::Consumed;
use crate::engine::queue_roles::Consumer;

/// A replay under way: where it goes, and what it did so far.
pub(super) struct Replay {
    pub(super) target: Target,
    pub(super) summary: Summary,
    /// Users archived, with the version and whether it was a removal.
    pub(super) archived: BTreeMap<UserId, (u64, bool)>,
    /// Parameters written.
    /// The users whose names were published.
    pub(super) published: BTreeSet<UserId>,
}

impl Replay {
    /// Stream records: to the router, then through both queues.
    pub(super) async fn stream(
        &mut self,
        source: &Arc<str>,
        first: usize,
        records: Vec<Box<RawValue>>,
    ) -> Vec<Row> {
        let mut rows: Vec<Row> = (0..records.len())
            .map(|offset| Row::new(source, first + offset, "stream"))
            .collect();
        let routed = self.target.route(&records).await;
        for (row, item) in rows.iter_mut().zip(routed) {
            // Each record's final report: a delivery that failed and was
            // retried reports nothing, so neither do its calls.
            self.summary
                .metered(Function::StreamRouter, &item.beyond_fate());
            row.routed(item);
        }
        self.drain(&mut rows).await;
        rows
    }

    /// SQS messages: onto the queue of the consumer their `eventSourceARN`
    /// names (the reader found it), then to that consumer with the queue
    /// rules.
    pub(super) async fn sqs(
        &mut self,
        source: &Arc<str>,
        first: usize,
        consumer: Consumer,
        messages: &[Box<RawValue>],
    ) -> Vec<Row> {
        let messages: Vec<SqsMessage> = messages
            .iter()
            .enumerate()
            .map(|(offset, raw)| sqs_message(raw, first + offset))
            .collect();
        let mut rows: Vec<Row> = messages
            .iter()
            .enumerate()
            .map(|(offset, message)| {
                let mut row = Row::new(source, first + offset, "sqs");
                row.queued(message);
                row
            })
            .collect();
        for (index, item) in self.target.enqueue(consumer, &messages).await {
            *consumer_fate(&mut rows[index], consumer) = Some(item.fate);
        }
        self.drain(&mut rows).await;
        rows
    }

    /// A Cognito trigger: the trigger, then whatever its write sets off.
    pub(super) async fn cognito(
        &mut self,
        source: &Arc<str>,
        index: usize,
        event: serde_json::Value,
    ) -> Vec<Row> {
        let mut row = Row::new(source, index, "cognito");
        let sign_up = self.target.sign_up(event).await;
        row.trigger = Some(match &sign_up.outcome {
            Ok(Outcome::Recorded(user)) => {
                row.user_id = Some(user.clone());
                "sign-up: recorded".to_owned()
            }
            Ok(Outcome::AlreadyRecorded(user)) => {
                row.user_id = Some(user.clone());
                "sign-up: already recorded".to_owned()
            }
            Ok(Outcome::Ignored) => "password reset: ignored".to_owned(),
            Err(err) => {
                self.summary.triggers_rejected += 1;
                format!("rejected: {err}")
            }
        });
        if let Ok(outcome) = &sign_up.outcome {
            self.summary
                .metered(Function::PostConfirmation, &Counts::one(outcome.metric()));
        }
        // A sign-up writes one item, so it emits at most one stream record.
        let mut rows = vec![row];
        if !sign_up.stream.is_empty() {
            let routed = self.target.route(&sign_up.stream).await;
            if let Some(item) = routed.into_iter().next() {
                rows[0].routed(item);
            }
            self.drain(&mut rows).await;
        }
        rows
    }

    /// An API Gateway request: the greeting's answer.
    pub(super) async fn api(
        &mut self,
        source: &Arc<str>,
        index: usize,
        request: ApiGatewayProxyRequest,
    ) -> Vec<Row> {
        let mut row = Row::new(source, index, "api");
        row.trigger = Some(format!(
            "{} {}",
            request.http_method,
            request.path.as_deref().unwrap_or("/")
        ));
        row.user_id = request
            .request_context
            .authorizer
            .fields
            .get("claims")
            .and_then(|claims| claims.get("sub"))
            .and_then(serde_json::Value::as_str)
            .and_then(|sub| UserId::parse(sub).ok());
        let (answer, stream) = self.target.answer(request).await;
        let response = answer.response;
        self.summary.requests += 1;
        self.summary.metered(answer.function, &answer.counts);
        row.response = Some(Response {
            status: response.status_code,
            content_type: response
                .headers
                .get(aws_lambda_events::http::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
            body: match response.body {
                Some(Body::Text(text)) => text,
                Some(Body::Binary(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
                _ => String::new(),
            },
        });
        // A rename or an erasure writes the row: its stream record goes on
        // through the router and both consumers, as a sign-up's does.
        let mut rows = vec![row];
        if !stream.is_empty() {
            let routed = self.target.route(&stream).await;
            if let Some(item) = routed.into_iter().next() {
                rows[0].routed(item);
            }
            self.drain(&mut rows).await;
        }
        rows
    }

    /// A line that is no event: dead-lettered with its reason to the
    /// router's DLQ, as the router does with a record it cannot read.
    pub(super) async fn unreadable(
        &mut self,
        source: &Arc<str>,
        index: usize,
        text: &str,
        reason: Reason,
    ) -> Vec<Row> {
        let mut row = Row::new(source, index, "line");
        row.router = Some(self.target.dead_letter_input(text, &reason).await);
        row.trigger = Some(format!("unreadable: {reason}"));
        vec![row]
    }

    /// Drains both queues and attaches each consumer's fate to its row.
    async fn drain(&mut self, rows: &mut [Row]) {
        let consumed = self.target.drain().await;
        for Consumed { consumer, item } in &consumed {
            self.summary
                .metered(consumer.function(), &item.beyond_fate());
        }
        settle(rows, consumed, &mut self.archived, &mut self.published);
    }

    pub(super) fn count(&mut self, rows: &[Row]) {
        for row in rows.iter().filter(|row| row.response.is_none()) {
            self.summary.records += 1;
            for (tally, function, fate) in [
                (
                    &mut self.summary.router,
                    Function::StreamRouter,
                    &row.router,
                ),
                (
                    &mut self.summary.archive,
                    Function::ArchiveConsumer,
                    &row.archive,
                ),
                (
                    &mut self.summary.publish,
                    Function::PublishConsumer,
                    &row.publish,
                ),
            ] {
                if let Some(fate) = fate {
                    tally.add(fate);
                    // The tallies borrow the summary: its metrics field is reached directly.
                    self.summary
                        .metrics
                        .entry(function)
                        .or_default()
                        .merge(&Counts::one(fate.metric(function)));
                }
            }
        }
    }
}

/// An SQS event's record; one that does not read as one keeps its whole
/// text as the body, for its consumer to dead-letter with the reason.
fn sqs_message(raw: &RawValue, index: usize) -> SqsMessage {
    serde_json::from_str::<SqsMessage>(raw.get()).unwrap_or_else(|_| {
        let mut message = SqsMessage::default();
        message.body = Some(raw.get().to_owned());
        message.message_id = Some(format!("replayed-{index}"));
        message
    })
}

fn consumer_fate(row: &mut Row, consumer: Consumer) -> &mut Option<Fate> {
    match consumer {
        Consumer::Archive => &mut row.archive,
        Consumer::Publish => &mut row.publish,
    }
}

/// Attaches the consumers' fates to the rows of their records (by message
/// id for SQS input, by the change's event id otherwise), and notes what
/// was written.
fn settle(
    rows: &mut [Row],
    consumed: Vec<Consumed>,
    archived: &mut BTreeMap<UserId, (u64, bool)>,
    published: &mut BTreeSet<UserId>,
) {
    // The rows of each message id (SQS input) or event id (the rest), in
    // order: a record that appears twice gets the fate of each of its
    // copies, in the order they were consumed.
    let mut by_message: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_event: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, row) in rows.iter().enumerate() {
        match (&row.message_id, &row.event_id) {
            (Some(id), _) => by_message.entry(id).or_default().push(index),
            (None, Some(id)) => by_event.entry(id).or_default().push(index),
            (None, None) => {}
        }
    }
    // How many copies of each id each consumer has settled so far.
    let mut taken: HashMap<(Consumer, String), usize> = HashMap::new();
    let mut next_row = |consumer: Consumer, rows_of: Option<&Vec<usize>>, id: &str| {
        let rows_of = rows_of?;
        let copy = taken.entry((consumer, id.to_owned())).or_default();
        let row = rows_of.get(*copy).or(rows_of.last()).copied();
        *copy += 1;
        row
    };
    let mut updates = Vec::with_capacity(consumed.len());
    for Consumed { consumer, item } in consumed {
        if let (Fate::Applied, Some(user), Some(version)) =
            (&item.fate, &item.user_id, item.version)
        {
            let removed = item.kind == Some(ChangeKind::Removed);
            match consumer {
                Consumer::Archive => {
                    archived.insert(user.clone(), (version.get(), removed));
                }
                Consumer::Publish => {
                    published.insert(user.clone());
                }
            }
        }
        let row = match (by_message.get(item.id.as_str()), item.event_id.as_deref()) {
            (Some(rows_of), _) => next_row(consumer, Some(rows_of), &item.id),
            (None, Some(event)) => next_row(consumer, by_event.get(event), event),
            (None, None) => None,
        };
        if let Some(row) = row {
            updates.push((row, consumer, item.fate));
        }
    }
    for (row, consumer, fate) in updates {
        *consumer_fate(&mut rows[row], consumer) = Some(fate);
    }
}
