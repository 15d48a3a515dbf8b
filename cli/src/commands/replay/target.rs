//! Where a replay's events go: the embedded pipeline over the local state,
//! or a stack's own resources (its consumers, Lambda or `onboard dev`, take
//! it from there).

use onboard_shared::reason::Reason;
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use account::Account;
use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::event::sqs::SqsMessage;
use chrono::Utc;
use greeting::Greeter;
use onboard_shared::aws::{CognitoDirectory, S3Archive, SsmParameters, cognito_client, s3_client};
use onboard_shared::batch::{self, Fate, ItemReport};
use onboard_shared::catalogue::Function;
use onboard_shared::local::LocalMessage;
use onboard_shared::local::MemoryDirectory;
use onboard_shared::ports::OutgoingMessage;
use onboard_shared::telemetry::metrics::Counts;
use serde_json::value::RawValue;

use super::Options;
use crate::engine::event_source::Settings;
use crate::engine::event_source::on_failure::RecordsWithReasons;
use crate::engine::event_source::stream::{Clock, StreamPoller};
use crate::engine::pipeline::{self, Consumed, DeadLettered, LocalPipeline, Repair, SignUp};
use crate::engine::queue_roles::Consumer;
use crate::stack::{Stack, StackError};

/// The source the dead letters of unreadable input name.
pub const REPLAY_INPUT: &str = "replay-input";

/// Where the handlers' writes go.
// One per replay, made once and never moved on a hot path: boxing a variant
// would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(super) enum Target {
    Local {
        pipeline: LocalPipeline,
        greeter: Greeter,
        /// Over the local table and a user pool in memory.
        account: Account,
    },
    Stack {
        stack: Stack,
        router: stream_router::Router,
        greeter: Greeter,
        /// Over the stack's table and pool.
        account: Account,
        settings: Settings,
    },
}

/// The answer of the function API Gateway routes a request to.
pub(super) struct Answer {
    pub function: Function,
    pub response: ApiGatewayProxyResponse,
    pub counts: Counts,
}

impl Target {
    pub(super) fn local(pipeline: LocalPipeline, options: &Options) -> Self {
        // A replay reads what it just wrote: no cache.
        let greeter = Greeter::new(
            pipeline.parameters.clone(),
            pipeline.parameters.clone(),
            options.prefix.clone(),
            Duration::ZERO,
        )
        .reading_accounts(pipeline.table.clone(), pipeline.archive.clone());
        let account = Account::new(pipeline.table.clone(), Arc::new(MemoryDirectory::default()));
        Target::Local {
            pipeline,
            greeter,
            account,
        }
    }

    pub(super) async fn stack(stack: Stack, settings: Settings) -> Result<Self, StackError> {
        let cognito = aws_sdk_cognitoidentityprovider::Client::new(&stack.sdk);
        let pool = crate::stack::find_user_pool(&cognito, &stack.names).await?;
        // The greeting never writes: the write pace does not apply.
        let parameters = Arc::new(SsmParameters::new(stack.ssm.clone(), f64::INFINITY));
        let greeter = Greeter::new(
            parameters.clone(),
            parameters,
            stack.names.parameter_prefix.clone(),
            Duration::ZERO,
        )
        .reading_accounts(
            Arc::new(stack.users()),
            Arc::new(S3Archive::new(
                s3_client(&stack.sdk, crate::stack::path_style(&stack.sdk)),
                &stack.names.bucket,
            )),
        );
        let account = Account::new(
            Arc::new(stack.users()),
            Arc::new(CognitoDirectory::new(
                cognito_client(&stack.sdk),
                &pool.pool_id,
            )),
        );
        Ok(Target::Stack {
            router: stack.router(),
            stack,
            greeter,
            account,
            settings,
        })
    }

    pub(super) async fn route(&self, records: &[Box<RawValue>]) -> Vec<ItemReport> {
        match self {
            Target::Local { pipeline, .. } => pipeline.route(records).await,
            Target::Stack {
                router, settings, ..
            } => {
                // Replayed records are no part of the stack's stream, so they
                // reach its router DLQ themselves, not as a pointer into it.
                let poller = StreamPoller {
                    settings: settings.stream,
                    clock: Clock::RecordTime,
                    retry_delay: Duration::from_millis(200),
                };
                let destination = RecordsWithReasons(router.dead_letters.clone());
                poller.deliver_all(records, router, &destination).await
            }
        }
    }

    /// Puts SQS messages on their consumer's queue, as SQS would hold them:
    /// locally they are then drained with the rest; a stack's consumers
    /// take them on their own. Returns what could not be sent, by index.
    pub(super) async fn enqueue(
        &self,
        consumer: Consumer,
        messages: &[SqsMessage],
    ) -> Vec<(usize, ItemReport)> {
        match self {
            Target::Local { pipeline, .. } => {
                let queue = pipeline.queue(consumer.queue());
                for message in messages {
                    queue.push(LocalMessage {
                        message_id: message.message_id.clone().unwrap_or_default(),
                        body: message.body.clone().unwrap_or_default(),
                        attributes: BTreeMap::new(),
                        receive_count: 0,
                        trace_header: message
                            .attributes
                            .get(onboard_shared::wire::TRACE_MESSAGE_ATTRIBUTE)
                            .cloned(),
                        sent_at: Utc::now(),
                    });
                }
                Vec::new()
            }
            Target::Stack { router, .. } => {
                let queue = match consumer {
                    Consumer::Archive => &router.archive,
                    Consumer::Publish => &router.publish,
                };
                let outgoing = messages
                    .iter()
                    .enumerate()
                    .map(|(index, message)| {
                        let outgoing = OutgoingMessage {
                            trace_header: message
                                .attributes
                                .get(onboard_shared::wire::TRACE_MESSAGE_ATTRIBUTE)
                                .cloned(),
                            id: String::new(),
                            body: message.body.clone().unwrap_or_default(),
                            attributes: Vec::new(),
                        };
                        (index, outgoing)
                    })
                    .collect();
                batch::send_all(queue.as_ref(), outgoing)
                    .await
                    .into_iter()
                    .map(|(index, failure)| {
                        let reason = Reason::scrubbed(format_args!(
                            "not sent to {}: {}",
                            queue.name(),
                            failure.reason
                        ));
                        let id = messages[index].message_id.clone().unwrap_or_default();
                        (index, ItemReport::new(id, Fate::Failed { reason }))
                    })
                    .collect()
            }
        }
    }

    /// Dead-letters input that is no event to the router's DLQ, with its
    /// reason; its fate (failed, if even that send failed).
    pub(super) async fn dead_letter_input(&self, text: &str, reason: &Reason) -> Fate {
        let queue = match self {
            Target::Local { pipeline, .. } => pipeline.router.dead_letters.clone(),
            Target::Stack { router, .. } => router.dead_letters.clone(),
        };
        let fates = batch::dead_letter_all(
            queue.as_ref(),
            REPLAY_INPUT,
            batch::ReasonClass::Unreadable,
            [(text, reason.clone())],
        )
        .await;
        fates.into_iter().next().unwrap_or(Fate::Failed {
            reason: reason.clone(),
        })
    }

    /// The consumers' work: local only; a stack's consumers run on their own.
    pub(super) async fn drain(&self) -> Vec<Consumed> {
        match self {
            Target::Local { pipeline, .. } => pipeline.drain().await,
            Target::Stack { .. } => Vec::new(),
        }
    }

    /// The answer to an API Gateway request, by the function its resource
    /// routes to (`/me` the account function's, the rest the greeting's),
    /// and the stream records a change wrote (local only: a stack's own
    /// stream carries them).
    pub(super) async fn answer(
        &self,
        request: ApiGatewayProxyRequest,
    ) -> (Answer, Vec<Box<RawValue>>) {
        let (Target::Local {
            greeter, account, ..
        }
        | Target::Stack {
            greeter, account, ..
        }) = self;
        let answer = if request.resource.as_deref() == Some("/me") {
            let answered = account::answer(account, request).await;
            Answer {
                function: Function::Account,
                response: answered.response,
                counts: answered.counts,
            }
        } else {
            let answered = greeting::answer(greeter, request).await;
            Answer {
                function: Function::Greeting,
                response: answered.response,
                counts: answered.counts,
            }
        };
        let stream = match self {
            Target::Local { pipeline, .. } => pipeline.table.take_stream(),
            Target::Stack { .. } => Vec::new(),
        };
        (answer, stream)
    }

    pub(super) async fn sign_up(&self, event: serde_json::Value) -> SignUp {
        match self {
            Target::Local { pipeline, .. } => pipeline.sign_up(event).await,
            Target::Stack {
                stack, settings, ..
            } => {
                // The table's own stream carries the new user on from here.
                let (outcome, attempts) =
                    pipeline::trigger(&stack.users(), event, settings.trigger_attempts).await;
                SignUp {
                    outcome,
                    attempts,
                    stream: Vec::new(),
                }
            }
        }
    }

    pub(super) fn flush(&mut self) -> io::Result<Vec<DeadLettered>> {
        match self {
            Target::Local { pipeline, .. } => pipeline.flush(),
            Target::Stack { .. } => Ok(Vec::new()),
        }
    }

    /// The local state's files mended when it was opened.
    pub(super) fn repairs(&self) -> &[Repair] {
        match self {
            Target::Local { pipeline, .. } => &pipeline.repairs,
            Target::Stack { .. } => &[],
        }
    }

    pub(super) fn parameter_values(&self) -> BTreeMap<String, String> {
        match self {
            Target::Local { pipeline, .. } => pipeline.parameters.values(),
            Target::Stack { .. } => BTreeMap::new(),
        }
    }

    /// Where the replay went, for the report's last line.
    pub(super) fn location(&self, options: &Options) -> String {
        match self {
            Target::Local { .. } => options.state.display().to_string(),
            Target::Stack { stack, .. } => format!(
                "{} and {} ({})",
                stack.queues.archive.url, stack.queues.publish.url, stack.names.table
            ),
        }
    }

    pub(super) fn is_remote(&self) -> bool {
        matches!(self, Target::Stack { .. })
    }
}
