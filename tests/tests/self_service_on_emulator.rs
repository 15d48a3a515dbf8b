//! The self-service API end to end on a real AWS API (moto's server), with
//! the pool's real tokens and a real HTTP client: a person renames
//! themselves, downloads their data and erases their account, and every
//! copy onboard keeps (table, archive and its versions, published names and
//! their history, the pool) follows. The local Lambda service runs the
//! router, both consumers and the names' writer.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider as cognito;
use onboard_cli::commands::signup;
use onboard_cli::stack::{self, Stack, UserPool};
use onboard_tests::eventually;
use onboard_tests::id_token;
use onboard_tests::stack::{Service, fresh_stack, names_parameters, published, serve_api};
use serde_json::{Value, json};

const PASSWORD: &str = "Correct-Horse-9-battery";
const ADA: &str = "ada@example.com";
const BOB: &str = "bob@example.com";

/// The stack's pool, and its API served in-process (names cached for 1 s)
/// as a user signed in with their password calls it.
async fn signed_in(stack: &Stack, email: &str) -> (UserPool, Api) {
    let pool = stack::find_user_pool(&cognito::Client::new(&stack.sdk), &stack.names)
        .await
        .unwrap();
    let api = Api {
        http: reqwest::Client::new(),
        url: serve_api(stack, &pool, Duration::from_secs(1)).await,
        token: id_token(&stack.sdk, &pool, email, PASSWORD).await,
    };
    (pool, api)
}

struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<(&str, &str)>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("Authorization", &self.token);
        if let Some((content_type, body)) = body {
            request = request
                .header("Content-Type", content_type)
                .body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn rename(&self, name: &str) -> (u16, Value) {
        let body = json!({ "name": name }).to_string();
        self.send(
            reqwest::Method::PATCH,
            "/me",
            Some(("application/json", &body)),
        )
        .await
    }

    async fn hello(&self, seen: Option<u64>) -> Value {
        let path = match seen {
            Some(version) => format!("/hello?version={version}"),
            None => "/hello".to_owned(),
        };
        let (status, body) = self.send(reqwest::Method::GET, &path, None).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

async fn pool_name(stack: &Stack, pool: &UserPool, user: &str) -> Option<String> {
    let found = cognito::Client::new(&stack.sdk)
        .admin_get_user()
        .user_pool_id(&pool.pool_id)
        .username(user)
        .send()
        .await
        .ok()?;
    found
        .user_attributes()
        .iter()
        .find(|a| a.name() == "name")
        .and_then(|a| a.value().map(str::to_owned))
}

/// The user's row in the table, as JSON.
async fn row(stack: &Stack, user: &str) -> Value {
    let item = stack
        .dynamodb
        .get_item()
        .table_name(&stack.names.table)
        .key(
            "user_id",
            onboard_shared::aws::dynamodb::types::AttributeValue::S(user.to_owned()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    serde_dynamo::from_item(item).unwrap()
}

/// Every version of the user's archive object: (version id, body); one
/// deleted between the listing and its read is left out.
async fn archive_versions(stack: &Stack, user: &str) -> Vec<(String, Value)> {
    let key = format!("users/{user}.json");
    let listed = stack
        .s3
        .list_object_versions()
        .bucket(&stack.names.bucket)
        .prefix(&key)
        .send()
        .await
        .unwrap();
    let mut out = Vec::new();
    for version in listed.versions() {
        let id = version.version_id().unwrap_or_default().to_owned();
        // A version deleted since the listing (an erasure at work) is gone.
        let Ok(object) = stack
            .s3
            .get_object()
            .bucket(&stack.names.bucket)
            .key(&key)
            .version_id(&id)
            .send()
            .await
        else {
            continue;
        };
        let bytes = object.body.collect().await.unwrap().into_bytes();
        out.push((id, serde_json::from_slice(&bytes).unwrap()));
    }
    out
}

/// Every value every names parameter has had, oldest first.
async fn names_history(stack: &Stack) -> Vec<String> {
    let mut values = Vec::new();
    for name in names_parameters(&stack.ssm, &stack.names.parameter_prefix)
        .await
        .into_keys()
    {
        // A parameter deleted since the listing (a rotation at work) is gone.
        let Ok(history) = stack.ssm.get_parameter_history().name(&name).send().await else {
            continue;
        };
        values.extend(
            history
                .parameters()
                .iter()
                .filter_map(|p| p.value().map(str::to_owned)),
        );
    }
    values
}

#[tokio::test]
async fn a_person_renames_downloads_and_erases_their_account_everywhere() {
    // GIVEN Ada and Bob signed up, recorded, archived and published
    let stack = fresh_stack().await;
    let service = Service::start(&stack);
    let ada = signup::sign_up(&stack, ADA, PASSWORD, Some("Ada"))
        .await
        .unwrap()
        .sub;
    let bob = signup::sign_up(&stack, BOB, PASSWORD, Some("Bob Bobson"))
        .await
        .unwrap()
        .sub;
    for user in [&ada, &bob] {
        eventually("the names published", || async {
            published(&stack, user).await.filter(|p| p.version == 1)
        })
        .await;
    }
    let (pool, api) = signed_in(&stack, ADA).await;

    // WHEN Ada sends bodies the schema refuses, THEN each is a 400 that
    // says why, and nothing is written
    let long = "a".repeat(129);
    for (content_type, body) in [
        ("application/json", "{\"name\":"),
        ("application/json", r#"{"name":""}"#),
        ("application/json", r#"{"name":"   "}"#),
        ("application/json", &*format!(r#"{{"name":"{long}"}}"#)),
        ("application/json", r#"{"name":"Ada\u0007"}"#),
        ("application/json", r#"{"name":"Ada\u202eevil"}"#),
        ("application/json", r#"{"name":42}"#),
        ("application/json", r#"{"name":"Ada","admin":true}"#),
        (
            "application/json",
            &*format!(r#"{{"name":"Ada","user_id":"{bob}"}}"#),
        ),
        ("text/plain", r#"{"name":" Ada"}"#),
    ] {
        let (status, answer) = api
            .send(reqwest::Method::PATCH, "/me", Some((content_type, body)))
            .await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["message"], "Invalid request body");
        assert!(!answer["errors"].as_array().unwrap().is_empty());
    }
    assert_eq!(row(&stack, &ada).await["version"], 1, "no bad body wrote");
    // AND without a token, or with one of another kind or signed by no one,
    // every route of hers is a 401 that writes nothing
    let forged = {
        let mut parts: Vec<String> = api.token.split('.').map(str::to_owned).collect();
        parts[2] = "c2lnbmF0dXJl".to_owned();
        parts.join(".")
    };
    for token in ["", "not-a-jwt", forged.as_str()] {
        let stranger = Api {
            http: api.http.clone(),
            url: api.url.clone(),
            token: token.to_owned(),
        };
        for (method, path) in [
            (reqwest::Method::PATCH, "/me"),
            (reqwest::Method::DELETE, "/me"),
            (reqwest::Method::GET, "/me/data"),
        ] {
            let body = (method == reqwest::Method::PATCH)
                .then_some(("application/json", r#"{"name":"Mallory"}"#));
            let (status, _) = stranger.send(method.clone(), path, body).await;
            assert_eq!(status, 401, "{method} {path} with {token:?}");
        }
    }
    assert_eq!(row(&stack, &ada).await["version"], 1, "no stranger wrote");

    // WHEN she renames herself
    let renamed_at = Instant::now();
    let (status, answer) = api.rename("Ada Lovelace").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"name": "Ada Lovelace", "version": 2, "changed": true})
    );
    // THEN a greeting that says it has seen version 2 shows the new name at
    // once (from the row), and says its version
    let fresh = api.hello(Some(2)).await;
    assert_eq!(
        fresh,
        json!({"message": "Hello, Ada Lovelace", "version": 2})
    );
    let to_greeting_with_version = renamed_at.elapsed();
    // AND the rename reaches the published names and the plain greeting
    eventually("the rename published", || async {
        published(&stack, &ada).await.filter(|p| p.version == 2)
    })
    .await;
    let to_parameter = renamed_at.elapsed();
    eventually("the plain greeting to show the rename", || async {
        let hello = api.hello(None).await;
        (hello["version"] == 2).then_some(())
    })
    .await;
    let to_plain_greeting = renamed_at.elapsed();
    println!(
        "rename on the emulator: greeting with ?version=2 after {} ms; published parameter after {} ms; plain greeting after {} ms",
        to_greeting_with_version.as_millis(),
        to_parameter.as_millis(),
        to_plain_greeting.as_millis()
    );
    assert_eq!(api.hello(None).await["message"], "Hello, Ada Lovelace");
    // AND the pool agrees, and the archive keeps the new version
    assert_eq!(
        pool_name(&stack, &pool, &ada).await.as_deref(),
        Some("Ada Lovelace")
    );
    eventually("the rename archived", || async {
        let versions = archive_versions(&stack, &ada).await;
        (versions.len() == 2).then_some(())
    })
    .await;
    // AND the same name again changes nothing
    let (_, again) = api.rename("Ada Lovelace").await;
    assert_eq!(again["changed"], false);
    assert_eq!(again["version"], 2);

    // WHEN she downloads her data
    let (status, data) = api.send(reqwest::Method::GET, "/me/data", None).await;
    // THEN it holds her row, her archived object and her published entry,
    // and nothing of Bob's
    assert_eq!(status, 200, "{data}");
    assert_eq!(data["user_id"], ada.as_str());
    assert_eq!(data["table"]["row"]["name"], "Ada Lovelace");
    assert_eq!(data["table"]["row"]["email"], ADA);
    assert_eq!(data["archive"]["object"]["user"]["name"], "Ada Lovelace");
    assert!(data["archive"]["written_at"].is_string());
    assert_eq!(data["published"]["name"], "Ada Lovelace");
    assert_eq!(data["published"]["version"], 2);
    let text = data.to_string();
    assert!(!text.contains("Bob") && !text.contains(&bob), "{text}");

    // WHEN she deletes her account, twice
    let (status, erased) = api.send(reqwest::Method::DELETE, "/me", None).await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["version"], 3);
    let (status, _) = api.send(reqwest::Method::DELETE, "/me", None).await;
    assert_eq!(status, 200, "a second DELETE finds the work done");
    // THEN her still-valid token can change nothing
    let (status, _) = api.rename("Ada Again").await;
    assert_eq!(status, 410);
    let (status, _) = api.send(reqwest::Method::GET, "/me/data", None).await;
    assert_eq!(status, 410);
    // AND the pool has no such user, who cannot sign in
    assert!(pool_name(&stack, &pool, &ada).await.is_none());
    let signed_in = onboard_cli::commands::token::id_token(
        &cognito::Client::new(&stack.sdk),
        &pool,
        ADA,
        PASSWORD,
        || None,
    )
    .await;
    assert!(signed_in.is_err());
    // AND the row is a tombstone with nothing personal
    let tombstone = row(&stack, &ada).await;
    assert!(tombstone.get("erased_at").is_some(), "{tombstone}");
    assert!(
        tombstone.get("email").is_none() && tombstone.get("name").is_none(),
        "{tombstone}"
    );
    // AND the archive keeps one version, the guard, with nothing personal,
    // and the id is in the log of erasures
    let versions = eventually("the archive's history deleted", || async {
        let versions = archive_versions(&stack, &ada).await;
        (versions.len() == 1).then_some(versions)
    })
    .await;
    let guard = &versions[0].1;
    assert_eq!(guard["kind"], "removed");
    assert_eq!(guard["version"], 3);
    assert!(guard.get("user").is_none(), "{guard}");
    stack
        .s3
        .head_object()
        .bucket(&stack.names.bucket)
        .key(format!("erased/{ada}"))
        .send()
        .await
        .unwrap();
    // AND her name is in no version of any names parameter, Bob's still is
    eventually("the name gone from every parameter version", || async {
        let history = names_history(&stack).await;
        let gone = published(&stack, &ada)
            .await
            .is_some_and(|p| p.removed && p.name.is_none());
        (gone && !history.iter().any(|value| value.contains("Ada"))).then_some(())
    })
    .await;
    assert_eq!(
        published(&stack, &bob).await.unwrap().name.as_deref(),
        Some("Bob Bobson")
    );
    service.stop().await;
}

#[tokio::test]
async fn two_renames_at_once_end_with_one_name_everywhere() {
    // GIVEN Cy, recorded and published
    let stack = fresh_stack().await;
    let service = Service::start(&stack);
    let cy = signup::sign_up(&stack, "cy@example.com", PASSWORD, Some("Cy"))
        .await
        .unwrap()
        .sub;
    let (pool, api) = signed_in(&stack, "cy@example.com").await;
    // WHEN two renames are sent at once
    let (first, second) = tokio::join!(api.rename("Cy One"), api.rename("Cy Two"));
    assert_eq!((first.0, second.0), (200, 200), "{first:?} {second:?}");
    // THEN the table holds one of them at version 3, and the archive, the
    // published names and the pool end with the same one
    let table = row(&stack, &cy).await;
    assert_eq!(table["version"], 3);
    let name = table["name"].as_str().unwrap().to_owned();
    assert!(name == "Cy One" || name == "Cy Two");
    assert_eq!(pool_name(&stack, &pool, &cy).await, Some(name.clone()));
    eventually("the archive and the names at version 3", || async {
        let published = published(&stack, &cy).await?;
        let versions = archive_versions(&stack, &cy).await;
        let latest = versions
            .iter()
            .map(|(_, body)| body)
            .max_by_key(|body| body["version"].as_u64())?;
        (published.version == 3 && latest["version"] == 3).then(|| (published, latest.clone()))
    })
    .await;
    let published = published(&stack, &cy).await.unwrap();
    assert_eq!(published.name.as_deref(), Some(name.as_str()));
    service.stop().await;
}
