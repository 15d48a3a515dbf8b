//! Erasure finished by `onboard reconcile --fix`, on a real AWS API (moto's
//! server): a `DELETE /me` that stopped after the tombstone, a row that a
//! restore of the table brought back though its id is in the log of
//! erasures, and a pool name changed behind the pipeline's back.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use aws_sdk_cognitoidentityprovider as cognito;
use chrono::Utc;
use onboard_cli::stack::{self, Names};
use onboard_shared::aws::{DynamoUserStore, dynamodb};
use onboard_shared::domain::UserId;
use onboard_shared::ports::{AccountStore, Expected, UserReader};
use onboard_tests::onboard::Onboard;
use onboard_tests::{emulator, unique};
use serde_json::Value;

const ONBOARD: Onboard = Onboard::at(env!("CARGO_BIN_EXE_onboard"));
const PASSWORD: &str = "Correct-Horse-9-battery";

fn sign_up(stack: &str, email: &str, name: &str) -> String {
    ONBOARD.sign_up(stack, email, PASSWORD, name)
}

fn findings(report: &Value) -> Vec<(String, String, Option<String>)> {
    let mut found: Vec<_> = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["user_id"].as_str().unwrap().to_owned(),
                e["finding"].as_str().unwrap().to_owned(),
                e["fixed"].as_str().map(str::to_owned),
            )
        })
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn reconcile_finishes_every_erasure_and_sets_the_pool_s_name_from_the_table() {
    // GIVEN Ana, Ben and Cal signed up on a stack
    let stack = unique("erase");
    let dir = tempfile::tempdir().unwrap();
    let dev = ONBOARD.start_dev_bootstrapped(&stack, dir.path());
    let ana = sign_up(&stack, "ana@example.com", "Ana");
    let ben = sign_up(&stack, "ben@example.com", "Ben");
    let cal = sign_up(&stack, "cal@example.com", "Cal");
    drop(dev);
    let sdk = emulator().sdk_config().await;
    let names = Names::for_stack(&stack, stack::default_parameter_prefix(&stack));
    let client = cognito::Client::new(&sdk);
    let pool = stack::find_user_pool(&client, &names).await.unwrap();
    let table = DynamoUserStore::new(dynamodb::Client::new(&sdk), &names.table);
    let id = |raw: &str| UserId::parse(raw).unwrap();

    // AND Ana's DELETE /me stopped after her row became a tombstone
    let row = table.get(&id(&ana)).await.unwrap().unwrap();
    let tombstone = row.erased(Utc::now()).unwrap();
    table
        .replace(&tombstone, Expected::Version(row.version))
        .await
        .unwrap();
    // AND Ben was erased (his id logged, his pool user deleted), then a
    // restore of the table brought his row back
    let s3 = onboard_shared::aws::s3_client(&sdk, true);
    s3.put_object()
        .bucket(&names.bucket)
        .key(format!("erased/{ben}"))
        .body(Vec::new().into())
        .send()
        .await
        .unwrap();
    client
        .admin_delete_user()
        .user_pool_id(&pool.pool_id)
        .username("ben@example.com")
        .send()
        .await
        .unwrap();
    // AND Cal's pool name was changed behind the pipeline's back
    client
        .admin_update_user_attributes()
        .user_pool_id(&pool.pool_id)
        .username("cal@example.com")
        .user_attributes(onboard_cli::commands::signup::attribute("name", "Not Cal").unwrap())
        .send()
        .await
        .unwrap();

    // WHEN reconcile looks, THEN it names each, and exits 1
    let (code, out, err) = ONBOARD.run(&stack, &["reconcile", "--json"]);
    assert_eq!(code, Some(1), "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let mut expected = vec![
        (ana.clone(), "erasure_unfinished".to_owned(), None),
        (ben.clone(), "erased_brought_back".to_owned(), None),
        (cal.clone(), "pool_name_behind".to_owned(), None),
    ];
    expected.sort();
    assert_eq!(findings(&report), expected);

    // WHEN it fixes them, THEN each is done and the next run finds all in step
    let (code, out, err) = ONBOARD.run(&stack, &["reconcile", "--fix", "--json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let fixed: Vec<Option<String>> = findings(&serde_json::from_str(&out).unwrap())
        .into_iter()
        .map(|(_, _, fixed)| fixed)
        .collect();
    assert!(
        fixed
            .iter()
            .all(|f| matches!(f.as_deref(), Some("erased" | "pool name set"))),
        "{out}"
    );
    let (code, out, err) = ONBOARD.run(&stack, &["reconcile", "--json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    // Ana is gone from the pool, Ben's row is a tombstone again, and Cal's
    // pool name is the table's
    let gone = client
        .admin_get_user()
        .user_pool_id(&pool.pool_id)
        .username("ana@example.com")
        .send()
        .await;
    assert!(gone.is_err());
    assert!(table.get(&id(&ben)).await.unwrap().unwrap().is_erased());
    let cal_in_pool = client
        .admin_get_user()
        .user_pool_id(&pool.pool_id)
        .username("cal@example.com")
        .send()
        .await
        .unwrap();
    let name = cal_in_pool
        .user_attributes()
        .iter()
        .find(|a| a.name() == "name")
        .and_then(|a| a.value())
        .unwrap();
    assert_eq!(name, "Cal");
}
