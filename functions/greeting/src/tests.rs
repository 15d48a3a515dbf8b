//! The greeting's answers: the name it finds, the page it serves, what it refuses.

use super::*;
use crate::hello::prefers_html;
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::HeaderMap;
use onboard_shared::local::FileParameters;

const JSON: &str = include_str!("../../../fixtures/apigw/hello-json.json");
const HTML: &str = include_str!("../../../fixtures/apigw/hello-html.json");
const UNSAFE: &str = include_str!("../../../fixtures/apigw/hello-html-unsafe-name.json");
const NO_CLAIMS: &str = include_str!("../../../fixtures/apigw/hello-without-claims.json");
const PAGE: &str = include_str!("../../../fixtures/apigw/sign-in-page.json");
const ZOE: &str = "/onboard/users/7d8a3f4e-0b1c-4e6f-9a2b-3c4d5e6f7a8b/name";

use onboard_shared::domain::{Revision, Version};
use onboard_shared::names::{Entry, Layout, LeafId, NamesPaths, Side, Tier, UserKey, read_value};
use onboard_shared::ports::NamesStore;

fn greeter(store: Arc<FileParameters>, ttl: Duration) -> Greeter {
    Greeter::new(
        store.clone(),
        store,
        ParameterPrefix::parse("onboard").unwrap(),
        ttl,
    )
}

fn request(json: &str) -> ApiGatewayProxyRequest {
    serde_json::from_str(json).unwrap()
}

/// The text body of an answer (the sign-in page's tests use it too).
pub(crate) fn body(response: &ApiGatewayProxyResponse) -> &str {
    match &response.body {
        Some(Body::Text(text)) => text,
        _ => panic!("no text body"),
    }
}

fn content_type(response: &ApiGatewayProxyResponse) -> &str {
    response.headers[header::CONTENT_TYPE].to_str().unwrap()
}

/// Publishes names as the writer packs them: one leaf, and its summary.
async fn publish(store: &FileParameters, names: &[(&str, &str)]) {
    let mut layout = Layout::new(5_000);
    for (user, name) in names {
        layout.merge(
            &UserId::parse(*user).unwrap(),
            Entry {
                revision: Revision {
                    version: Version::new(1).unwrap(),
                    removed: false,
                },
                name: Some((*name).to_owned()),
            },
        );
    }
    let plan = layout.plan(0).unwrap();
    let paths = NamesPaths::new(&ParameterPrefix::parse("onboard").unwrap());
    for put in plan.puts {
        store
            .put_tiered(&paths.leaf(put.id, put.side), &put.value, put.tier)
            .await
            .unwrap();
    }
    let summary = serde_json::to_string(&plan.summary.unwrap()).unwrap();
    store
        .put_tiered(&paths.summary(), &summary, Tier::Standard)
        .await
        .unwrap();
}

/// The token's user in the fixtures.
const ZOE_SUB: &str = "7d8a3f4e-0b1c-4e6f-9a2b-3c4d5e6f7a8b";

#[tokio::test]
async fn the_name_comes_from_the_published_names() {
    let store = Arc::new(FileParameters::in_memory());
    publish(&store, &[(ZOE_SUB, "Zoë M."), ("someone-else", "Ada")]).await;
    let response = handle(&greeter(store, Duration::from_secs(60)), request(JSON)).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(content_type(&response), "application/json; charset=utf-8");
    assert_eq!(
        body(&response),
        r#"{"message":"Hello, Zoë M.","version":1}"#
    );
}

#[tokio::test]
async fn without_a_parameter_the_name_falls_back_to_the_claims_and_never_the_email() {
    let store = Arc::new(FileParameters::in_memory());
    let response = handle(&greeter(store, Duration::from_secs(60)), request(JSON)).await;
    assert_eq!(body(&response), r#"{"message":"Hello, Zoë Martin"}"#);
    assert!(!body(&response).contains("example.com"));

    let mut only_email = request(JSON);
    let claims = only_email
        .request_context
        .authorizer
        .fields
        .get_mut("claims")
        .unwrap();
    claims.as_object_mut().unwrap().remove("name");
    claims["preferred_username"] = "zoe@example.com".into();
    let store = Arc::new(FileParameters::in_memory());
    let response = handle(&greeter(store, Duration::from_secs(60)), only_email).await;
    assert_eq!(body(&response), r#"{"message":"Hello, there"}"#);
}

#[tokio::test]
async fn names_are_cached_across_invocations_for_a_short_time() {
    let store = Arc::new(FileParameters::in_memory());
    publish(&store, &[(ZOE_SUB, "Zoë")]).await;
    let cached = greeter(store.clone(), Duration::from_secs(60));
    for _ in 0..3 {
        let response = handle(&cached, request(JSON)).await;
        assert_eq!(body(&response), r#"{"message":"Hello, Zoë","version":1}"#);
    }
    // The summary and the parameter that holds the user: once.
    assert_eq!(store.calls.get("GetParameters"), 2);
    let uncached = greeter(store.clone(), Duration::ZERO);
    for _ in 0..2 {
        handle(&uncached, request(JSON)).await;
    }
    assert_eq!(store.calls.get("GetParameters"), 6);
    assert_eq!(
        store.calls.get("GetParameter"),
        0,
        "no one-parameter-a-user read"
    );
}

#[tokio::test]
async fn while_a_stack_is_migrated_a_user_of_the_old_layout_is_greeted_by_name() {
    let store = Arc::new(FileParameters::in_memory());
    publish(&store, &[("someone-else", "Ada")]).await;
    store
        .put(ZOE, r#"{"name":"Zoë of old","version":2}"#)
        .await
        .unwrap();
    let greeter = greeter(store.clone(), Duration::from_secs(60));
    for _ in 0..2 {
        let response = handle(&greeter, request(JSON)).await;
        assert_eq!(
            body(&response),
            r#"{"message":"Hello, Zoë of old","version":2}"#
        );
    }
    assert_eq!(
        store.calls.get("GetParameter"),
        1,
        "kept for the cache's time"
    );
}

#[tokio::test]
async fn a_removed_user_is_greeted_from_the_claims() {
    let store = Arc::new(FileParameters::in_memory());
    publish(&store, &[(ZOE_SUB, "Zoë")]).await;
    // The removal, as the writer makes it: a tombstone, no name, under
    // the leaf's other name, and the name it had deleted.
    let paths = NamesPaths::new(&ParameterPrefix::parse("onboard").unwrap());
    let root = paths.leaf(LeafId::ROOT, Side::A);
    let mut values = store.get_many(std::slice::from_ref(&root)).await.unwrap();
    let mut placed = read_value(&values.remove(&root).unwrap()).unwrap();
    let tombstone = Entry {
        revision: Revision {
            version: Version::new(2).unwrap(),
            removed: true,
        },
        name: None,
    };
    let zoe = UserKey::of(&UserId::parse(ZOE_SUB).unwrap());
    placed.leaf.merge(zoe, tombstone);
    placed.generation = placed.generation.rotated(1);
    let rotated = paths.leaf(LeafId::ROOT, placed.side());
    store
        .put_tiered(&rotated, &placed.value(), placed.tier)
        .await
        .unwrap();
    store.delete_many(&[root]).await.unwrap();
    let response = handle(&greeter(store, Duration::from_secs(60)), request(JSON)).await;
    assert_eq!(body(&response), r#"{"message":"Hello, Zoë Martin"}"#);
}

#[tokio::test]
async fn a_browser_gets_an_html_page() {
    let store = Arc::new(FileParameters::in_memory());
    let response = handle(&greeter(store, Duration::from_secs(60)), request(HTML)).await;
    assert_eq!(content_type(&response), "text/html; charset=utf-8");
    assert!(body(&response).contains("<h1>Hello, Zoë Martin</h1>"));
    assert!(
        response
            .headers
            .contains_key(header::CONTENT_SECURITY_POLICY)
    );
}

#[tokio::test]
async fn every_user_supplied_value_is_escaped_in_html() {
    let store = Arc::new(FileParameters::in_memory());
    let response = handle(&greeter(store, Duration::from_secs(60)), request(UNSAFE)).await;
    let page = body(&response);
    assert!(
        page.contains("Hello, Zoë &lt;b&gt;bold&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script>") && !page.contains("<b>"));
}

#[tokio::test]
async fn a_request_without_claims_is_unauthorized() {
    let store = Arc::new(FileParameters::in_memory());
    let response = handle(&greeter(store, Duration::from_secs(60)), request(NO_CLAIMS)).await;
    assert_eq!(response.status_code, 401);
    assert_eq!(body(&response), r#"{"message":"Unauthorized"}"#);
}

fn header(response: &ApiGatewayProxyResponse, name: header::HeaderName) -> &str {
    response
        .headers
        .get(&name)
        .map_or("", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn every_answer_carries_the_allowed_origin_401_included() {
    let store = Arc::new(FileParameters::in_memory());
    let allowing = greeter(store, Duration::from_secs(60))
        .allowing_origin("https://app.example.org")
        .unwrap();
    for fixture in [JSON, NO_CLAIMS, PAGE] {
        let response = handle(&allowing, request(fixture)).await;
        assert_eq!(
            header(&response, header::ACCESS_CONTROL_ALLOW_ORIGIN),
            "https://app.example.org"
        );
    }
    let store = Arc::new(FileParameters::in_memory());
    let without = handle(&greeter(store, Duration::from_secs(60)), request(JSON)).await;
    assert!(
        without
            .headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
}

#[test]
fn json_wins_unless_html_is_preferred() {
    let accept = |value: &'static str| {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(value));
        prefers_html(&headers)
    };
    assert!(accept("text/html,application/xhtml+xml,*/*;q=0.8"));
    assert!(!accept("application/json"));
    assert!(!accept("*/*"));
    assert!(!accept("text/html;q=0.5, application/json"));
    assert!(accept("application/json;q=0.5, text/html"));
    assert!(!prefers_html(&HeaderMap::new()));
}

#[test]
fn a_name_from_cognito_is_shown_without_its_control_and_text_reversing_characters() {
    assert_eq!(crate::shown("Zoë\u{202e}nimda"), "Zoë\u{fffd}nimda");
    assert_eq!(
        crate::shown("A\u{7}B\u{2066}C\nD"),
        "A\u{fffd}B\u{fffd}C\u{fffd}D"
    );
    assert_eq!(crate::shown("李小龍 👩\u{200d}💻"), "李小龍 👩\u{200d}💻");
}
