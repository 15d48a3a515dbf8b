//! The AWS adapters against a real AWS API (moto's server, started by the
//! test support): the calls they make are the calls AWS answers.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;

use archive_consumer::Archiver;
use aws_lambda_events::event::sqs::SqsEvent;
use onboard_shared::aws::{
    CallBudget, DynamoUserStore, S3Archive, SqsQueue, SsmParameters, dynamodb, s3, s3_client, sqs,
    ssm,
};
use onboard_shared::batch::{self, Fate, Skip};
use onboard_shared::domain::{Revision, User, UserId, Version};
use onboard_shared::error::PortError;
use onboard_shared::names::{NamesPaths, UserKey, read_value};
use onboard_shared::ports::Inbox;
use onboard_shared::ports::{
    ArchiveStore, MessageQueue, OutgoingMessage, PutNew, UserStore, WriteCondition,
};
use onboard_shared::published::ParameterPrefix;
use onboard_tests::{emulator, receive_all, unique};
use publish_consumer::writer::{RunLimits, Writer};

const OUT_OF_ORDER: &str = include_str!("../../fixtures/sqs/changes-out-of-order.json");
const POISON: &str = include_str!("../../fixtures/sqs/batch-with-poison-messages.json");
const ADA: &str = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9";

fn user(id: &str, name: &str) -> User {
    User {
        user_id: UserId::parse(id).unwrap(),
        email: Some(onboard_shared::domain::Email::parse("zoe@example.com").unwrap()),
        name: Some(name.to_owned()),
        attributes: Default::default(),
        created_at: chrono::Utc::now(),
        version: Version::FIRST,
        updated_at: None,
        renames: None,
        erased_at: None,
    }
}

async fn users_table(client: &dynamodb::Client) -> String {
    let name = unique("users");
    onboard_cli::stack::users_table(client, &name)
        .await
        .unwrap();
    name
}

async fn queue(client: &sqs::Client, name: &str) -> SqsQueue {
    let url = client
        .create_queue()
        .queue_name(unique(name))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    SqsQueue::new(client.clone(), name, url)
}

async fn bucket(client: &s3::Client) -> String {
    let name = unique("archive");
    client.create_bucket().bucket(&name).send().await.unwrap();
    name
}

/// A user's archive object: the version its metadata says, and its body.
async fn archived(
    client: &s3::Client,
    bucket: &str,
    user: &str,
) -> (Option<String>, serde_json::Value) {
    let object = client
        .get_object()
        .bucket(bucket)
        .key(format!("users/{user}.json"))
        .send()
        .await
        .unwrap();
    let version = object
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.get("onboard-version").cloned());
    let body = serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap();
    (version, body)
}

fn sqs_event(json: &str) -> SqsEvent {
    serde_json::from_str(json).unwrap()
}

#[tokio::test]
async fn the_user_write_is_conditional_so_a_retried_trigger_leaves_one_item() {
    // GIVEN a users table in DynamoDB
    let sdk = emulator().sdk_config().await;
    let client = dynamodb::Client::new(&sdk);
    let table = users_table(&client).await;
    let store = DynamoUserStore::new(client.clone(), &table);

    // WHEN the same user is written twice, the second time with another name
    let first = store.put_new(&user("u-1", "Zoë")).await.unwrap();
    let second = store.put_new(&user("u-1", "Someone else")).await.unwrap();

    // THEN one item, as first written
    assert_eq!((first, second), (PutNew::Created, PutNew::AlreadyExists));
    let items = client.scan().table_name(&table).send().await.unwrap();
    assert_eq!(items.count, 1);
    let stored: User = serde_dynamo::from_item(items.items.unwrap().remove(0)).unwrap();
    assert_eq!(stored.name.as_deref(), Some("Zoë"));
    assert_eq!(stored.version, Version::FIRST);
}

#[tokio::test]
async fn the_trigger_s_trace_is_kept_on_the_row_and_read_back_from_its_stream_record() {
    // GIVEN a users table with its stream
    let sdk = emulator().sdk_config().await;
    let client = dynamodb::Client::new(&sdk);
    let table = users_table(&client).await;
    let store = DynamoUserStore::new(client.clone(), &table);
    // WHEN the trigger writes a user in a traced invocation
    let header = "Root=1-6745a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1";
    let written = user("u-t", "Zoë");
    store.put_new_traced(&written, Some(header)).await.unwrap();
    // THEN the stream record the router gets carries the trace beside the
    // user, who is as written
    let arn = onboard_cli::stack::latest_stream_arn(&client, &table)
        .await
        .unwrap();
    let mut reader = onboard_cli::stack::table_stream::ShardReader::new(
        aws_sdk_dynamodbstreams::Client::new(&sdk),
        arn,
    );
    let (_, records) = reader.next_batch(100).await.unwrap();
    let message = onboard_shared::stream::decode_raw(&records[0]).unwrap();
    assert_eq!(message.trace_header.as_deref(), Some(header));
    assert_eq!(message.user.user_id, written.user_id);
    assert_eq!(message.user.name, written.name);
    assert_eq!(message.user.email, written.email);
    assert!(
        !message.to_json().contains("Root="),
        "the body carries no trace"
    );
}

#[tokio::test]
async fn the_lambda_config_signs_and_sends_calls_with_only_lambda_s_environment() {
    // GIVEN the environment Lambda gives a function, pointed at the emulator
    let url = emulator().url().to_owned();
    let env = move |var: &str| match var {
        "AWS_REGION" => Some(onboard_shared::aws::EMULATOR_REGION.to_owned()),
        "AWS_ACCESS_KEY_ID" => Some("AKIDLAMBDA".to_owned()),
        "AWS_SECRET_ACCESS_KEY" => Some("lambda-secret".to_owned()),
        "AWS_SESSION_TOKEN" => Some("lambda-session".to_owned()),
        "AWS_ENDPOINT_URL" => Some(url.clone()),
        _ => None,
    };
    let sdk = onboard_shared::aws::lambda_config(&env, Some(CallBudget::TRIGGER)).unwrap();

    // WHEN the trigger's store writes a user through it
    let client = dynamodb::Client::new(&sdk);
    let table = users_table(&client).await;
    let written = DynamoUserStore::new(client, &table)
        .put_new(&user("u-1", "Zoë"))
        .await
        .unwrap();

    // THEN the call went through
    assert_eq!(written, PutNew::Created);
}

#[tokio::test]
async fn a_write_to_a_missing_table_is_rejected_not_retried() {
    let sdk = emulator().sdk_config().await;
    let store = DynamoUserStore::new(dynamodb::Client::new(&sdk), "no-such-table");
    let err = store.put_new(&user("u-1", "Zoë")).await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(err.chain().contains("ResourceNotFoundException"), "{err}");
}

#[tokio::test]
async fn messages_go_out_in_calls_of_at_most_ten_entries_and_all_arrive() {
    // GIVEN a queue and 25 messages
    let sdk = emulator().sdk_config().await;
    let client = sqs::Client::new(&sdk);
    let queue = queue(&client, "archive").await;
    let messages: Vec<_> = (0..25)
        .map(|i| {
            let message = OutgoingMessage {
                trace_header: None,
                id: String::new(),
                body: format!("message {i}"),
                attributes: vec![],
            };
            (i, message)
        })
        .collect();

    // WHEN they are sent, THEN SQS takes every one, in three calls of at most ten
    let (calls, _) = batch::chunk(messages.clone());
    assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
    let failures = batch::send_all(&queue, messages).await;
    assert!(failures.is_empty(), "{failures:?}");
    let mut bodies: Vec<_> = receive_all(&client, queue.url())
        .await
        .into_iter()
        .map(|(body, _)| body)
        .collect();
    bodies.sort();
    let mut expected: Vec<_> = (0..25).map(|i| format!("message {i}")).collect();
    expected.sort();
    assert_eq!(bodies, expected);
}

#[tokio::test]
async fn large_messages_go_out_in_calls_of_at_most_one_mebibyte_and_all_arrive() {
    // GIVEN five messages of 300 KiB: three fit in one call, not four
    let sdk = emulator().sdk_config().await;
    let client = sqs::Client::new(&sdk);
    let queue = queue(&client, "archive").await;
    let messages: Vec<_> = (0..5)
        .map(|i| {
            let message = OutgoingMessage {
                trace_header: None,
                id: String::new(),
                body: format!("{i}{}", "x".repeat(300 * 1024)),
                attributes: vec![],
            };
            (i, message)
        })
        .collect();
    let (calls, _) = batch::chunk(messages.clone());
    assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [3, 2]);

    // WHEN they are sent, THEN SQS takes every call and every message arrives
    let failures = batch::send_all(&queue, messages).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(receive_all(&client, queue.url()).await.len(), 5);
}

#[tokio::test]
async fn sqs_refusing_a_call_fails_each_entry_with_its_reason() {
    let sdk = emulator().sdk_config().await;
    let client = sqs::Client::new(&sdk);
    let queue = queue(&client, "archive").await;
    let eleven: Vec<_> = (0..11)
        .map(|i| OutgoingMessage {
            trace_header: None,
            id: i.to_string(),
            body: "x".into(),
            attributes: vec![],
        })
        .collect();

    // More entries than SQS takes in one call: SQS refuses the call itself.
    let err = queue.send_batch(&eleven).await.unwrap_err();
    assert!(matches!(err, PortError::Rejected { .. }), "{err}");
    assert!(
        err.chain().contains("TooManyEntriesInBatchRequest"),
        "{err}"
    );

    // A queue that does not exist: every entry fails, none retryable.
    let gone = SqsQueue::new(
        client.clone(),
        "gone",
        format!("{}/123456789012/gone", emulator().url()),
    );
    let three: Vec<_> = eleven[..3].iter().cloned().enumerate().collect();
    let failures = batch::send_all(&gone, three).await;
    let mut keys: Vec<usize> = failures.iter().map(|(key, _)| *key).collect();
    keys.sort_unstable();
    assert_eq!(keys, [0, 1, 2], "each failure known by its sender's key");
    assert!(failures.iter().all(|(_, f)| !f.retryable), "{failures:?}");
}

#[tokio::test]
async fn the_archive_consumer_on_s3_ends_at_the_newest_version_whatever_the_order() {
    // GIVEN a bucket and the consumer wired to it
    let sdk = emulator().sdk_config().await;
    let client = s3_client(&sdk, true);
    let bucket = bucket(&client).await;
    let dead_letters = queue(&sqs::Client::new(&sdk), "archive-dlq").await;
    let archiver = Archiver {
        archive: Arc::new(S3Archive::new(client.clone(), &bucket)),
        dead_letters: Arc::new(dead_letters),
    };

    // WHEN versions 3, 1, 2 of a user arrive in one batch, then the batch again
    let first = archive_consumer::handle(&archiver, &sqs_event(OUT_OF_ORDER)).await;
    let again = archive_consumer::handle(&archiver, &sqs_event(OUT_OF_ORDER)).await;

    // THEN the object holds version 3, and the redelivery wrote nothing
    assert!(first.failed().next().is_none(), "{first:?}");
    let (version, body) = archived(&client, &bucket, ADA).await;
    assert_eq!(version.as_deref(), Some("3"));
    assert_eq!(body["version"], 3);
    assert_eq!(body["user"]["name"], "Ada King");
    assert!(
        again.items.iter().all(|item| matches!(
            item.fate,
            Fate::Skipped {
                why: Skip::Duplicate | Skip::Stale
            }
        )),
        "{again:?}"
    );
}

#[tokio::test]
async fn an_object_onboard_did_not_write_ranks_below_a_new_user_s_first_change() {
    // GIVEN an object at the user's key without onboard's version metadata
    // (put there by hand, or by another tool)
    let sdk = emulator().sdk_config().await;
    let client = s3_client(&sdk, true);
    let bucket = bucket(&client).await;
    let key = format!("users/{ADA}.json");
    client
        .put_object()
        .bucket(&bucket)
        .key(&key)
        .body(b"{\"someone\":\"else\"}".to_vec().into())
        .send()
        .await
        .unwrap();
    let archiver = Archiver {
        archive: Arc::new(S3Archive::new(client.clone(), &bucket)),
        dead_letters: Arc::new(queue(&sqs::Client::new(&sdk), "archive-dlq").await),
    };

    // WHEN the user's `created` change (version 1) arrives
    let mut created = sqs_event(OUT_OF_ORDER);
    created.records = vec![created.records[1].clone()];
    let report = archive_consumer::handle(&archiver, &created).await;

    // THEN it replaces the foreign object: applied, not skipped as a duplicate
    assert_eq!(report.items[0].fate, Fate::Applied, "{report:?}");
    let (version, body) = archived(&client, &bucket, ADA).await;
    assert_eq!(version.as_deref(), Some("1"));
    assert_eq!(body["user"]["name"], "Ada Lovelace");
}

/// The bodies of an SQS event fixture.
fn bodies(event: &str) -> Vec<String> {
    sqs_event(event)
        .records
        .into_iter()
        .map(|record| record.body.unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn the_writer_on_ssm_packs_users_in_one_parameter_and_never_rewrites_what_is_there() {
    // GIVEN Parameter Store, the publish queue and the writer wired to them
    let sdk = emulator().sdk_config().await;
    let client = ssm::Client::new(&sdk);
    let sqs = sqs::Client::new(&sdk);
    let prefix = ParameterPrefix::parse(&unique("/onboard")).unwrap();
    let inbox = Arc::new(queue(&sqs, "publish").await);
    let writer = Writer::new(
        Arc::new(SsmParameters::new(client.clone(), 50.0)),
        inbox.clone(),
        Arc::new(queue(&sqs, "publish-dlq").await),
        NamesPaths::new(&prefix),
        5_000,
    );
    let limits = RunLimits {
        max_messages: 100,
        max_bytes: usize::MAX,
        max_writes: 100,
    };

    // WHEN three changes of Ada and two of Grace come, then the same again
    Inbox::send(inbox.as_ref(), &bodies(OUT_OF_ORDER))
        .await
        .unwrap();
    let first = writer.run(limits, 0).await.unwrap();
    Inbox::send(inbox.as_ref(), &bodies(OUT_OF_ORDER))
        .await
        .unwrap();
    let again = writer.run(limits, 1).await.unwrap();

    // THEN both users are in one parameter, written once: SSM's own
    // version of it is 1, so the redelivery did not write again
    assert_eq!(first.received, 5, "{first:?}");
    let leaf = format!("{}/0.0", prefix.names_path());
    let parameter = client
        .get_parameter()
        .name(&leaf)
        .send()
        .await
        .unwrap()
        .parameter
        .unwrap();
    let value = parameter.value.clone().unwrap();
    let held = read_value(&value).unwrap().leaf;
    let ada = held
        .get(&UserKey::of(&UserId::parse(ADA).unwrap()))
        .unwrap();
    assert_eq!(ada.name.as_deref(), Some("Ada King"));
    assert_eq!(held.len(), 2);
    assert_eq!(parameter.version, 1);
    assert_eq!(again.puts, 0, "{again:?}");
    assert!(
        again
            .items
            .iter()
            .all(|item| matches!(item.fate, Fate::Skipped { .. })),
        "{again:?}"
    );

    // AND an older change arriving late (a DLQ redrive) does not go back,
    // even to a writer that starts cold and reads the parameter back
    let cold = Writer::new(
        Arc::new(SsmParameters::new(client.clone(), 50.0)),
        inbox.clone(),
        Arc::new(queue(&sqs, "publish-dlq").await),
        NamesPaths::new(&prefix),
        5_000,
    );
    let late = sqs_event(OUT_OF_ORDER)
        .records
        .into_iter()
        .filter(|record| {
            record.message_id.as_deref() == Some("0f0e0d0c-0000-4000-8000-000000000002")
        })
        .map(|record| record.body.unwrap_or_default())
        .collect::<Vec<_>>();
    Inbox::send(inbox.as_ref(), &late).await.unwrap();
    let report = cold.run(limits, 2).await.unwrap();
    assert_eq!(
        report.items[0].fate,
        Fate::Skipped { why: Skip::Stale },
        "{report:?}"
    );
    let after = client
        .get_parameter()
        .name(&leaf)
        .send()
        .await
        .unwrap()
        .parameter
        .unwrap();
    assert_eq!((after.value, after.version), (Some(value), 1));
    // AND the queue holds nothing: every message was deleted
    assert!(receive_all(&sqs, inbox.url()).await.is_empty());
}

#[tokio::test]
async fn poison_messages_reach_the_dead_letter_queue_with_their_reason() {
    // GIVEN the archive consumer on S3 with its DLQ in SQS
    let sdk = emulator().sdk_config().await;
    let sqs = sqs::Client::new(&sdk);
    let dlq = queue(&sqs, "archive-dlq").await;
    let client = s3_client(&sdk, true);
    let archiver = Archiver {
        archive: Arc::new(S3Archive::new(client.clone(), bucket(&client).await)),
        dead_letters: Arc::new(dlq.clone()),
    };

    // WHEN a batch holds good and unreadable messages
    let report = archive_consumer::handle(&archiver, &sqs_event(POISON)).await;

    // THEN the good ones are archived, the others are in the DLQ with a reason
    let dead: Vec<_> = report
        .items
        .iter()
        .filter(|item| matches!(item.fate, Fate::DeadLettered { .. }))
        .collect();
    assert!(!dead.is_empty());
    assert!(report.failed().next().is_none(), "{report:?}");
    // AND each dead letter names the message id it was received as (the one
    // the consumer's log names), which `dlq peek` shows beside its own
    let peeked = onboard_cli::commands::dlq::peek(&sqs, dlq.url(), 10)
        .await
        .unwrap();
    let mut received_as: Vec<_> = peeked
        .iter()
        .filter_map(|m| m.received_as.clone())
        .collect();
    let mut expected: Vec<_> = dead.iter().map(|item| item.id.clone()).collect();
    received_as.sort();
    expected.sort();
    assert_eq!(received_as, expected);
    let letters = receive_all(&sqs, dlq.url()).await;
    assert_eq!(letters.len(), dead.len());
    assert!(letters.iter().any(|(body, _)| body == "this is not json"));
    assert!(
        letters.iter().all(|(_, reason)| !reason.is_empty()),
        "{letters:?}"
    );
}

#[tokio::test]
async fn after_a_removal_every_older_version_is_deleted_and_the_current_one_kept() {
    // GIVEN a versioned bucket where a user's object has three versions
    let sdk = emulator().sdk_config().await;
    let client = s3_client(&sdk, true);
    let bucket = bucket(&client).await;
    client
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            s3::types::VersioningConfiguration::builder()
                .status(s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let archive = S3Archive::new(client.clone(), &bucket);
    let user = UserId::parse("u-history").unwrap();
    for (version, body) in [(1, "v1"), (2, "v2"), (3, "tombstone")] {
        let revision = Revision {
            version: Version::new(version).unwrap(),
            removed: version == 3,
        };
        let head = archive.head(&user).await.unwrap();
        let condition = head.map_or(WriteCondition::Absent, |h| WriteCondition::Matches(h.etag));
        archive
            .put(&user, revision, body.as_bytes(), condition)
            .await
            .unwrap();
    }
    // WHEN the history is deleted, twice
    let deleted = archive.delete_history(&user).await.unwrap();
    let again = archive.delete_history(&user).await.unwrap();
    // THEN the two older versions went, the current one stays, and a second
    // run finds nothing to do; the erasure log holds the id alone
    assert_eq!((deleted, again), (2, 0));
    let listed = client
        .list_object_versions()
        .bucket(&bucket)
        .prefix("users/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.versions().len(), 1);
    assert_eq!(
        archived_text(&client, &bucket, "u-history").await,
        "tombstone"
    );
    archive.log_erasure(&user).await.unwrap();
    let logged = client
        .get_object()
        .bucket(&bucket)
        .key("erased/u-history")
        .send()
        .await
        .unwrap();
    assert_eq!(logged.content_length(), Some(0));
}

/// A user's archive object's body, as text.
async fn archived_text(client: &s3::Client, bucket: &str, user: &str) -> String {
    let object = client
        .get_object()
        .bucket(bucket)
        .key(format!("users/{user}.json"))
        .send()
        .await
        .unwrap();
    let bytes = object.body.collect().await.unwrap().into_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}
