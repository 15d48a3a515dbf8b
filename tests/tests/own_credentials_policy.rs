//! The identity pool's authenticated role, as the template ships it,
//! evaluated where the emulator cannot look: moto hands out credentials
//! without checking the token, the role or the session's tags.
//!
//! The evaluator is the `iam-rs` crate (pinned: it says it is not yet
//! externally verified), so it is first held to examples from AWS's own
//! documentation, then run on the role's policy and trust policy read from
//! `infra/template.yaml`, never copied here. Its limits, and why they do not
//! touch this policy: it substitutes policy variables in `Resource` only,
//! not in condition values (the role uses none there); and a variable it
//! cannot resolve becomes the empty string, where AWS makes the statement
//! not match, so the role's statement also requires the tag (`Null`
//! false): a session without it matches nothing under either reading.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use iam_rs::{
    Arn, Context, ContextValue, Decision, EvaluationOptions, IAMPolicy, IAMRequest,
    PolicyEvaluator, Principal, PrincipalId,
};
use onboard_tests::template::resource;
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";
const BUCKET: &str = "onboard-archivebucket-1a2b3c4d";
const IDENTITY_POOL: &str = "eu-west-1:6f1c2d3e-4a5b-4c6d-8e7f-901234567890";
const ADA: &str = "3b9c1d2e-4f50-4a61-8b72-93a4b5c6d7e8";
const BOB: &str = "9e8d7c6b-5a49-4838-9271-605f4e3d2c1b";
const TAG: &str = "aws:PrincipalTag/user_id";

fn session() -> Principal {
    Principal::Aws(PrincipalId::String(format!(
        "arn:aws:sts::{ACCOUNT}:assumed-role/onboard-OwnDataRole/CognitoIdentityCredentials"
    )))
}

/// Decides one request against policies, as an identity policy is decided
/// (a trust policy has no `Resource`: `trust` leaves it out).
fn decide(
    policies: &[IAMPolicy],
    principal: Principal,
    action: &str,
    resource: &str,
    context: Context,
    trust: bool,
) -> Decision {
    let options = EvaluationOptions {
        ignore_resource_constraints: trust,
        ..EvaluationOptions::default()
    };
    let request =
        IAMRequest::new_with_context(principal, action, Arn::parse(resource).unwrap(), context);
    PolicyEvaluator::with_policies(policies.to_vec())
        .with_options(options)
        .evaluate(&request)
        .unwrap_or_else(|err| panic!("{action} on {resource}: {err:?}"))
        .decision
}

fn policy(document: Value) -> IAMPolicy {
    IAMPolicy::from_json(&document.to_string()).unwrap()
}

fn with(pairs: &[(&str, ContextValue)]) -> Context {
    let mut context = Context::new();
    for (key, value) in pairs {
        context.insert((*key).to_owned(), value.clone());
    }
    context
}

fn text(value: &str) -> ContextValue {
    ContextValue::String(value.to_owned())
}

#[test]
fn the_evaluator_agrees_with_aws_s_documented_examples() {
    let user = |name: &str| {
        Principal::Aws(PrincipalId::String(format!(
            "arn:aws:iam::{ACCOUNT}:user/{name}"
        )))
    };
    // IAM User Guide, policy variables: each user their own home folder.
    let home = policy(json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"]
        }]
    }));
    let david = with(&[("aws:username", text("David"))]);
    let object = |path: &str| format!("arn:aws:s3:::amzn-s3-demo-bucket/{path}");
    let home_of = |path: &str| {
        decide(
            std::slice::from_ref(&home),
            user("David"),
            "s3:GetObject",
            &object(path),
            david.clone(),
            false,
        )
    };
    assert_eq!(home_of("home/David/notes.txt"), Decision::Allow);
    assert_eq!(home_of("home/Ana/notes.txt"), Decision::NotApplicable);
    // `bucket/*` names the objects, not the bucket: no listing.
    assert_eq!(
        decide(
            &[home],
            user("David"),
            "s3:ListBucket",
            "arn:aws:s3:::amzn-s3-demo-bucket",
            david,
            false
        ),
        Decision::NotApplicable
    );

    // IAM User Guide, policy variables: a default value for a missing tag.
    let team = policy(json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/${aws:PrincipalTag/team, 'company-wide'}/*"
        }]
    }));
    let read = |path: &str, context: Context| {
        decide(
            std::slice::from_ref(&team),
            user("Ana"),
            "s3:GetObject",
            &object(path),
            context,
            false,
        )
    };
    assert_eq!(
        read("company-wide/plan.txt", Context::new()),
        Decision::Allow
    );
    assert_eq!(
        read(
            "blue/plan.txt",
            with(&[("aws:PrincipalTag/team", text("blue"))])
        ),
        Decision::Allow
    );
    assert_eq!(
        read("blue/plan.txt", Context::new()),
        Decision::NotApplicable
    );

    // IAM User Guide, policy evaluation logic: an explicit deny wins.
    let deny = policy(json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Effect": "Allow", "Action": "s3:*", "Resource": "*" },
            { "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*" }
        ]
    }));
    assert_eq!(
        decide(
            &[deny],
            user("Ana"),
            "s3:DeleteBucket",
            "arn:aws:s3:::amzn-s3-demo-bucket",
            Context::new(),
            false
        ),
        Decision::Deny
    );

    // IAM User Guide, condition operators: `Null` true when the key is absent.
    let long_term = policy(json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "ec2:*",
            "Resource": "*",
            "Condition": { "Null": { "aws:TokenIssueTime": "true" } }
        }]
    }));
    let ec2 = |context: Context| {
        decide(
            std::slice::from_ref(&long_term),
            user("Ana"),
            "ec2:DescribeInstances",
            &format!("arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/i-0abc"),
            context,
            false,
        )
    };
    assert_eq!(ec2(Context::new()), Decision::Allow);
    assert_eq!(
        ec2(with(&[(
            "aws:TokenIssueTime",
            text("2026-12-07T10:00:00Z")
        )])),
        Decision::NotApplicable
    );

    // Cognito Developer Guide, role trust: this pool's authenticated
    // identities only.
    let trust = policy(json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": "cognito-identity.amazonaws.com" },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": { "cognito-identity.amazonaws.com:aud": IDENTITY_POOL },
                "ForAnyValue:StringLike": { "cognito-identity.amazonaws.com:amr": "authenticated" }
            }
        }]
    }));
    let assume = |amr: &[&str]| {
        decide(
            std::slice::from_ref(&trust),
            Principal::Federated(PrincipalId::String(
                "cognito-identity.amazonaws.com".to_owned(),
            )),
            "sts:AssumeRoleWithWebIdentity",
            &format!("arn:aws:iam::{ACCOUNT}:role/any"),
            identity_context(IDENTITY_POOL, amr),
            true,
        )
    };
    assert_eq!(
        assume(&[
            "authenticated",
            "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC"
        ]),
        Decision::Allow
    );
    assert_eq!(assume(&["unauthenticated"]), Decision::NotApplicable);
}

fn identity_context(pool: &str, amr: &[&str]) -> Context {
    with(&[
        ("cognito-identity.amazonaws.com:aud", text(pool)),
        (
            "cognito-identity.amazonaws.com:amr",
            ContextValue::StringList(amr.iter().map(|&a| a.to_owned()).collect()),
        ),
    ])
}

/// A value of the template with the stack's references resolved: the
/// bucket's ARN and the identity pool's id; `${!x}` is the literal `${x}`.
fn resolved(value: &Value) -> Value {
    match value {
        Value::Array(all) => Value::Array(all.iter().map(resolved).collect()),
        Value::Object(map) if map.len() == 1 => {
            let (key, inner) = map.iter().next().unwrap();
            match key.as_str() {
                "Ref" if inner == "IdentityPool" => json!(IDENTITY_POOL),
                "Fn::GetAtt" if inner == &json!(["ArchiveBucket", "Arn"]) => {
                    json!(format!("arn:aws:s3:::{BUCKET}"))
                }
                "Fn::Sub" => {
                    let text = inner.as_str().unwrap();
                    let text = text
                        .replace("${ArchiveBucket.Arn}", &format!("arn:aws:s3:::{BUCKET}"))
                        .replace("${!", "${");
                    assert!(
                        text.match_indices("${")
                            .all(|(at, _)| text[at + 2..].starts_with("aws:")),
                        "an unresolved reference in {text}"
                    );
                    json!(text)
                }
                "Fn::If" | "Fn::Join" | "Fn::Select" | "Fn::ImportValue" => {
                    panic!("the role's policy holds {key}: resolve it here first")
                }
                _ => Value::Object(map.iter().map(|(k, v)| (k.clone(), resolved(v))).collect()),
            }
        }
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), resolved(v))).collect())
        }
        other => other.clone(),
    }
}

fn own_data_role() -> &'static Value {
    &resource("OwnDataRole")["Properties"]
}

/// The role's permissions: its one inline policy, and nothing managed.
fn own_data_policy() -> IAMPolicy {
    let role = own_data_role();
    assert!(
        role["ManagedPolicyArns"].is_null() && role["PermissionsBoundary"].is_null(),
        "the role's permissions are its inline policy alone"
    );
    let policies = role["Policies"].as_array().unwrap();
    assert_eq!(policies.len(), 1);
    policy(resolved(&policies[0]["PolicyDocument"]))
}

fn read_as(user: Option<&str>, action: &str, resource: &str) -> Decision {
    let context = match user {
        Some(user) => with(&[(TAG, text(user))]),
        None => Context::new(),
    };
    decide(
        &[own_data_policy()],
        session(),
        action,
        resource,
        context,
        false,
    )
}

fn archived(user: &str) -> String {
    format!("arn:aws:s3:::{BUCKET}/users/{user}.json")
}

#[test]
fn a_user_s_credentials_read_their_own_archive_object() {
    assert_eq!(
        read_as(Some(ADA), "s3:GetObject", &archived(ADA)),
        Decision::Allow
    );
    assert_eq!(
        read_as(Some(BOB), "s3:GetObject", &archived(BOB)),
        Decision::Allow
    );
}

#[test]
fn and_nothing_else() {
    let bucket = format!("arn:aws:s3:::{BUCKET}");
    let denied = [
        // another user's object
        ("s3:GetObject", archived(BOB)),
        // the listings
        ("s3:ListBucket", bucket.clone()),
        ("s3:ListBucketVersions", bucket.clone()),
        // an older version, which the page never asks for
        ("s3:GetObjectVersion", archived(ADA)),
        // other keys and prefixes
        ("s3:GetObject", format!("{bucket}/users/{ADA}.json.bak")),
        ("s3:GetObject", format!("{bucket}/users/{ADA}/x.json")),
        ("s3:GetObject", format!("{bucket}/erased/{ADA}")),
        ("s3:GetObject", format!("{bucket}/other/users/{ADA}.json")),
        ("s3:GetObject", format!("{bucket}/users/*.json")),
        // writes and deletes, of her own object too
        ("s3:PutObject", archived(ADA)),
        ("s3:DeleteObject", archived(ADA)),
        ("s3:DeleteObjectVersion", archived(ADA)),
        ("s3:PutObjectAcl", archived(ADA)),
        // another bucket
        (
            "s3:GetObject",
            format!("arn:aws:s3:::other-bucket/users/{ADA}.json"),
        ),
        // another service
        (
            "dynamodb:GetItem",
            format!("arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/onboard-users"),
        ),
        (
            "ssm:GetParameter",
            format!("arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/onboard/users/{ADA}/name"),
        ),
    ];
    for (action, resource) in &denied {
        assert_ne!(
            read_as(Some(ADA), action, resource),
            Decision::Allow,
            "Ada may {action} on {resource}"
        );
    }
    // A session with no tag at all reads nothing, not even an object whose
    // key an empty tag would make.
    for resource in [archived(ADA), format!("{bucket}/users/.json")] {
        assert_ne!(
            read_as(None, "s3:GetObject", &resource),
            Decision::Allow,
            "an untagged session may read {resource}"
        );
    }
}

#[test]
fn only_this_pool_s_signed_in_identities_may_take_the_role_and_tag_the_session() {
    let trust = policy(resolved(&own_data_role()["AssumeRolePolicyDocument"]));
    let cognito = || {
        Principal::Federated(PrincipalId::String(
            "cognito-identity.amazonaws.com".to_owned(),
        ))
    };
    let role = format!("arn:aws:iam::{ACCOUNT}:role/onboard-OwnDataRole");
    let take = |principal: Principal, action: &str, pool: &str, amr: &[&str]| {
        decide(
            std::slice::from_ref(&trust),
            principal,
            action,
            &role,
            identity_context(pool, amr),
            true,
        )
    };
    let signed_in = [
        "authenticated",
        "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC",
    ];
    for action in ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"] {
        assert_eq!(
            take(cognito(), action, IDENTITY_POOL, &signed_in),
            Decision::Allow
        );
        // another identity pool's identity
        assert_ne!(
            take(
                cognito(),
                action,
                "eu-west-1:00000000-0000-4000-8000-000000000000",
                &signed_in
            ),
            Decision::Allow
        );
        // a guest identity
        assert_ne!(
            take(cognito(), action, IDENTITY_POOL, &["unauthenticated"]),
            Decision::Allow
        );
    }
    // another principal, or another way in
    assert_ne!(
        take(session(), "sts:AssumeRole", IDENTITY_POOL, &signed_in),
        Decision::Allow
    );
    assert_ne!(
        take(cognito(), "sts:AssumeRole", IDENTITY_POOL, &signed_in),
        Decision::Allow
    );
}

#[test]
fn the_tag_holds_the_token_s_sub_under_a_name_that_says_so() {
    let tags = &resource("IdentityPoolPrincipalTags")["Properties"];
    assert_eq!(tags["UseDefaults"], false);
    assert_eq!(tags["PrincipalTags"], json!({ "user_id": "sub" }));
    // The identity id (cognito-identity.amazonaws.com:sub) is not the user.
    let policy = own_data_role()["Policies"].to_string();
    assert!(!policy.contains("cognito-identity.amazonaws.com:sub"));
    assert!(policy.contains(&format!("${{!{TAG}}}")), "{policy}");
}

#[test]
fn the_identity_pool_gives_credentials_to_signed_in_users_only_through_the_enhanced_flow() {
    let pool = &resource("IdentityPool")["Properties"];
    assert_eq!(pool["AllowUnauthenticatedIdentities"], false);
    assert_eq!(pool["AllowClassicFlow"], false);
    let providers = pool["CognitoIdentityProviders"].as_array().unwrap();
    let clients: Vec<&Value> = providers.iter().map(|p| &p["ClientId"]).collect();
    assert_eq!(
        clients,
        [
            &json!({ "Ref": "UserPoolClient" }),
            &json!({ "Ref": "CliClient" })
        ]
    );
    for provider in providers {
        assert_eq!(
            provider["ProviderName"],
            json!({ "Fn::GetAtt": ["UserPool", "ProviderName"] })
        );
        assert_eq!(provider["ServerSideTokenCheck"], true);
    }
    let roles = &resource("IdentityPoolRoles")["Properties"]["Roles"];
    assert_eq!(
        roles,
        &json!({ "authenticated": { "Fn::GetAtt": ["OwnDataRole", "Arn"] } })
    );
}
