//! The account function over the local table and pool: what a rename and
//! an erasure write, and what they refuse.

use std::sync::Arc;

use aws_lambda_events::encodings::Body;
use chrono::Utc;
use onboard_shared::domain::{User, UserId};
use onboard_shared::local::{LocalTable, MemoryDirectory};
use onboard_shared::ports::{AccountStore, UserReader};
use serde_json::{Value, json};

use super::*;

const SUB: &str = "0f1e2d3c-aaaa-bbbb-cccc-000000000001";

struct World {
    account: Account,
    table: Arc<LocalTable>,
    pool: Arc<MemoryDirectory>,
}

fn world() -> World {
    let table = Arc::new(LocalTable::in_memory());
    let pool = Arc::new(MemoryDirectory::default());
    World {
        account: Account::new(table.clone(), pool.clone()),
        table,
        pool,
    }
}

fn signed_up(world: &World, name: &str) -> User {
    let attributes = [("sub", SUB), ("email", "ada@example.com"), ("name", name)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let user = User::from_cognito(&attributes, Utc::now()).unwrap();
    world.table.update(user.clone()).unwrap();
    world.table.take_stream();
    user
}

fn request(method: Method, body: Option<&str>, sub: Option<&str>) -> ApiGatewayProxyRequest {
    let mut request = ApiGatewayProxyRequest::default();
    request.http_method = method;
    request.resource = Some("/me".to_owned());
    request.path = Some("/me".to_owned());
    request.body = body.map(str::to_owned);
    if let Some(sub) = sub {
        request.request_context.authorizer.fields.insert(
            "claims".to_owned(),
            json!({ "sub": sub, "cognito:username": sub }),
        );
    }
    request
}

async fn send(world: &World, method: Method, body: Option<&str>) -> (i64, Value) {
    let response = handle(&world.account, request(method, body, Some(SUB))).await;
    let body = match response.body {
        Some(Body::Text(text)) => serde_json::from_str(&text).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (response.status_code, body)
}

/// The local table, with one other write of the row landing between the
/// first read and the write that follows it: `other` makes it from the
/// row read.
struct Interleaved {
    table: Arc<LocalTable>,
    other: fn(User) -> User,
    done: std::sync::atomic::AtomicBool,
}

impl Interleaved {
    fn new(world: &World, other: fn(User) -> User) -> Arc<Self> {
        Arc::new(Self {
            table: world.table.clone(),
            other,
            done: false.into(),
        })
    }
}

#[async_trait::async_trait]
impl UserReader for Interleaved {
    async fn get(&self, user: &UserId) -> Result<Option<User>, PortError> {
        let row = UserReader::get(self.table.as_ref(), user).await?;
        if !self.done.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let other = (self.other)(row.clone().unwrap());
            self.table.update(other).unwrap();
        }
        Ok(row)
    }
}

#[async_trait::async_trait]
impl AccountStore for Interleaved {
    async fn replace(
        &self,
        user: &User,
        expected: onboard_shared::ports::Expected,
    ) -> Result<onboard_shared::ports::Conditional, PortError> {
        self.table.replace(user, expected).await
    }
}

fn row(world: &World) -> Option<User> {
    world.table.get(&UserId::parse(SUB).unwrap())
}

#[tokio::test]
async fn a_rename_raises_the_version_once_and_the_pool_follows() {
    // GIVEN Ada's row at version 1
    let world = world();
    signed_up(&world, "Ada");
    // WHEN she renames herself
    let (status, body) = send(&world, Method::PATCH, Some(r#"{"name":"Ada Lovelace"}"#)).await;
    // THEN the row holds the name at version 2, one MODIFY is on the stream,
    // and the pool's name agrees
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"name": "Ada Lovelace", "version": 2, "changed": true})
    );
    assert_eq!(row(&world).unwrap().name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(world.table.take_stream().len(), 1);
    assert_eq!(
        world.pool.name(SUB).await.unwrap().as_deref(),
        Some("Ada Lovelace")
    );
}

#[tokio::test]
async fn the_same_name_again_writes_nothing_and_keeps_the_version() {
    let world = world();
    signed_up(&world, "Ada");
    let (status, body) = send(&world, Method::PATCH, Some(r#"{"name":"Ada"}"#)).await;
    assert_eq!(
        (status, body["version"].clone(), body["changed"].clone()),
        (200, json!(1), json!(false))
    );
    assert!(world.table.take_stream().is_empty());
    assert_eq!(world.table.calls.get("PutItem"), 0);
}

#[tokio::test]
async fn a_bad_body_is_a_400_that_writes_nothing() {
    let world = world();
    signed_up(&world, "Ada");
    for body in [
        r#"{"name":" "}"#,
        r#"{"name":1}"#,
        "not json",
        r#"{"name":"Ada","user_id":"x"}"#,
    ] {
        let (status, answer) = send(&world, Method::PATCH, Some(body)).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["message"], "Invalid request body");
    }
    assert_eq!(world.table.calls.get("PutItem"), 0);
    assert_eq!(row(&world).unwrap().version.get(), 1);
}

#[tokio::test]
async fn renames_past_the_window_s_allowance_are_refused_with_retry_after() {
    let world = world();
    signed_up(&world, "Ada");
    for n in 0..onboard_shared::domain::RENAMES_PER_WINDOW {
        let (status, _) = send(
            &world,
            Method::PATCH,
            Some(&json!({"name": format!("Ada {n}")}).to_string()),
        )
        .await;
        assert_eq!(status, 200);
    }
    let response = handle(
        &world.account,
        request(Method::PATCH, Some(r#"{"name":"One more"}"#), Some(SUB)),
    )
    .await;
    assert_eq!(response.status_code, 429);
    assert!(response.headers.contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn an_erasure_leaves_a_tombstone_signs_out_and_deletes_and_is_safe_to_repeat() {
    // GIVEN Ada's row
    let world = world();
    signed_up(&world, "Ada");
    // WHEN she deletes her account, twice
    let (status, body) = send(&world, Method::DELETE, None).await;
    let (again, _) = send(&world, Method::DELETE, None).await;
    // THEN the row is a tombstone with nothing personal, written once, and
    // the pool signed her out and deleted her
    assert_eq!((status, again), (200, 200));
    assert_eq!(body, json!({"erased": true, "version": 2}));
    let tombstone = row(&world).unwrap();
    assert!(tombstone.is_erased());
    assert_eq!((tombstone.email, tombstone.name), (None, None));
    assert_eq!(world.table.take_stream().len(), 1);
    assert!(world.pool.is_signed_out(SUB) && world.pool.is_deleted(SUB));
}

#[tokio::test]
async fn after_an_erasure_a_rename_with_the_same_token_is_refused_and_writes_nothing() {
    let world = world();
    signed_up(&world, "Ada");
    send(&world, Method::DELETE, None).await;
    world.table.take_stream();
    let (status, _) = send(&world, Method::PATCH, Some(r#"{"name":"Back"}"#)).await;
    assert_eq!(status, 410);
    assert!(world.table.take_stream().is_empty());
    assert!(row(&world).unwrap().is_erased());
}

#[tokio::test]
async fn an_erasure_of_a_user_with_no_row_still_leaves_the_tombstone() {
    let world = world();
    let (status, _) = send(&world, Method::DELETE, None).await;
    assert_eq!(status, 200);
    assert!(row(&world).unwrap().is_erased());
    assert!(world.pool.is_deleted(SUB));
}

#[tokio::test]
async fn a_rename_that_loses_to_another_write_reads_the_row_again() {
    // GIVEN a table where another rename lands between the read and the write
    let world = world();
    signed_up(&world, "Ada");
    let racing = Interleaved::new(&world, |row| User {
        name: Some("Other".into()),
        version: row.version.next(),
        ..row
    });
    let account = Account::new(racing, world.pool.clone());
    // WHEN Ada renames herself
    let response = handle(
        &account,
        request(Method::PATCH, Some(r#"{"name":"Mine"}"#), Some(SUB)),
    )
    .await;
    // THEN her rename is written over the other one, one version up
    assert_eq!(response.status_code, 200);
    let row = row(&world).unwrap();
    assert_eq!((row.name.as_deref(), row.version.get()), (Some("Mine"), 3));
    assert_eq!(world.pool.name(SUB).await.unwrap().as_deref(), Some("Mine"));
}

#[tokio::test]
async fn without_the_authorizer_s_claims_the_answer_is_401() {
    let world = world();
    let response = handle(
        &world.account,
        request(Method::PATCH, Some(r#"{"name":"A"}"#), None),
    )
    .await;
    assert_eq!(response.status_code, 401);
}

#[tokio::test]
async fn a_rename_during_an_erasure_ends_refused_and_the_tombstone_stays() {
    // GIVEN a table where the erasure lands between the rename's read and write
    let world = world();
    signed_up(&world, "Ada");
    let erasing = Interleaved::new(&world, |row| row.erased(Utc::now()).unwrap());
    let account = Account::new(erasing, world.pool.clone());
    // WHEN Ada's rename races her erasure
    let response = handle(
        &account,
        request(Method::PATCH, Some(r#"{"name":"Back"}"#), Some(SUB)),
    )
    .await;
    // THEN the rename is refused and the row stays a tombstone
    assert_eq!(response.status_code, 410);
    let row = row(&world).unwrap();
    assert!(row.is_erased());
    assert_eq!(row.name, None);
}
