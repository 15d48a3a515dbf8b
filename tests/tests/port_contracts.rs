//! Each port's contract (`onboard_tests::contract`), run against both its
//! adapters: the local one `onboard replay` uses, and the AWS one Lambda
//! uses, on the emulator.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use onboard_shared::aws::{
    DynamoUserStore, S3Archive, SqsQueue, SsmParameters, dynamodb, s3_client, sqs, ssm,
};
use onboard_shared::local::{FileParameters, FolderArchive, LocalTable, MemoryQueue};
use onboard_tests::{contract, emulator, receive_all, unique};

#[tokio::test]
async fn the_local_table_keeps_the_user_store_contract() {
    contract::user_store(&LocalTable::in_memory()).await;
}

#[tokio::test]
async fn dynamodb_keeps_the_user_store_contract() {
    let sdk = emulator().sdk_config().await;
    let client = dynamodb::Client::new(&sdk);
    let table = unique("users");
    onboard_cli::stack::users_table(&client, &table)
        .await
        .unwrap();
    contract::user_store(&DynamoUserStore::new(client, &table)).await;
}

#[tokio::test]
async fn the_local_archive_keeps_the_archive_contract() {
    contract::archive_store(&FolderArchive::in_memory()).await;
}

#[tokio::test]
async fn s3_keeps_the_archive_contract() {
    let sdk = emulator().sdk_config().await;
    let client = s3_client(&sdk, true);
    let bucket = unique("archive");
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    contract::archive_store(&S3Archive::new(client, bucket)).await;
}

#[tokio::test]
async fn the_local_parameters_keep_the_parameter_store_contract() {
    contract::parameter_store(&FileParameters::in_memory(), "/onboard").await;
}

#[tokio::test]
async fn parameter_store_keeps_the_parameter_store_contract() {
    let sdk = emulator().sdk_config().await;
    let store = SsmParameters::new(ssm::Client::new(&sdk), 50.0);
    contract::parameter_store(&store, &unique("/onboard")).await;
}

#[tokio::test]
async fn the_local_queue_keeps_the_message_queue_contract() {
    let queue = MemoryQueue::new("q");
    contract::message_queue(&queue, || async {
        queue.drain().into_iter().map(|m| m.body).collect()
    })
    .await;
}

#[tokio::test]
async fn sqs_keeps_the_message_queue_contract() {
    let sdk = emulator().sdk_config().await;
    let client = sqs::Client::new(&sdk);
    let url = client
        .create_queue()
        .queue_name(unique("q"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue = SqsQueue::new(client.clone(), "q", &url);
    contract::message_queue(&queue, || async {
        receive_all(&client, &url)
            .await
            .into_iter()
            .map(|(body, _)| body)
            .collect()
    })
    .await;
}
