//! The self-service API as the template ships it, checked where the
//! emulator cannot: moto's API Gateway neither imports the OpenAPI body nor
//! runs request validators, so the body SAM translates is read here (with
//! `tests/infra/translated_api.py`), and the request schema is run through
//! the account function's check and two complete draft-4 validators (the
//! `jsonschema` crate, and Python's `jsonschema`) on the same documents.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use account::request::{RENAME_SCHEMA, rename_request};
use onboard_tests::template::{resource, template};
use onboard_tests::{Venv, workspace};
use serde_json::{Value, json};

/// The REST API's OpenAPI body, as SAM translates the template.
fn api_body() -> &'static Value {
    static BODY: OnceLock<Value> = OnceLock::new();
    BODY.get_or_init(|| {
        let python = Venv::SAM
            .python()
            .unwrap_or_else(|err| panic!("the SAM venv: {err}"));
        let output = Command::new(python)
            .arg("translated_api.py")
            .arg(workspace().join("infra/template.yaml"))
            .current_dir(workspace().join("tests/infra"))
            .output()
            .unwrap_or_else(|err| panic!("translating the template: {err}"));
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let apis: Value = serde_json::from_slice(&output.stdout).unwrap();
        apis["GreetingApi"].clone()
    })
}

fn schema_file() -> Value {
    serde_json::from_str(RENAME_SCHEMA).unwrap()
}

#[test]
fn the_template_s_model_is_the_schema_file_the_function_reads() {
    let model = &api_body()["components"]["schemas"]["RenameRequest"];
    assert_eq!(model, &schema_file());
    assert_eq!(
        model["$schema"], "http://json-schema.org/draft-04/schema#",
        "API Gateway's Models are draft 4"
    );
}

#[test]
fn patch_me_is_validated_under_default_whatever_the_content_type() {
    let body = api_body();
    let patch = &body["paths"]["/me"]["patch"];
    let content = patch["requestBody"]["content"].as_object().unwrap();
    assert_eq!(content.keys().collect::<Vec<_>>(), ["$default"]);
    assert_eq!(
        content["$default"]["schema"]["$ref"],
        "#/components/schemas/RenameRequest"
    );
    assert_eq!(patch["requestBody"]["required"], true);
    let validator = patch["x-amazon-apigateway-request-validator"]
        .as_str()
        .unwrap();
    assert_eq!(
        body["x-amazon-apigateway-request-validators"][validator]["validateRequestBody"],
        true
    );
}

#[test]
fn each_route_reaches_its_function_behind_the_cognito_authorizer_but_the_page() {
    let body = api_body();
    for (path, method, function) in [
        ("/hello", "get", "GreetingFunction"),
        ("/me/data", "get", "GreetingFunction"),
        ("/me", "patch", "AccountFunction"),
        ("/me", "delete", "AccountFunction"),
        ("/", "get", "GreetingFunction"),
    ] {
        let operation = &body["paths"][path][method];
        let uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no integration"));
        assert!(
            uri.contains(&format!("${{{function}.Arn}}")),
            "{method} {path}: {uri}"
        );
        let authorized = operation["security"] == json!([{ "CognitoAuthorizer": [] }]);
        assert_eq!(authorized, path != "/", "{method} {path}'s authorizer");
    }
}

#[test]
fn a_refused_body_is_a_400_with_the_validation_error_and_the_cors_headers() {
    let responses = &api_body()["x-amazon-apigateway-gateway-responses"];
    let bad = &responses["BAD_REQUEST_BODY"];
    assert_eq!(bad["statusCode"], "400");
    let body = bad["responseTemplates"]["application/json"]
        .as_str()
        .unwrap();
    assert!(body.contains("$context.error.validationErrorString"));
    // With a sample error substituted, the body is JSON.
    let sample = body.replace("$context.error.validationErrorString", "a reason");
    let parsed: Value = serde_json::from_str(&sample).unwrap();
    assert_eq!(parsed["message"], "Invalid request body");
    assert_eq!(
        bad["responseParameters"], responses["DEFAULT_4XX"]["responseParameters"],
        "the same CORS headers as every other 4xx"
    );
    // Never logged: the access log format holds no validation string.
    let api = resource("GreetingApi");
    let log_format = api["Properties"]["AccessLogSetting"].to_string();
    assert!(!log_format.contains("validationErrorString"));
}

/// Every action a role grants, with the resources it grants it on.
fn grants(role: &str) -> Vec<(String, String)> {
    let policies = resource(role)["Properties"]["Policies"].as_array().unwrap();
    let mut grants = Vec::new();
    for statement in policies
        .iter()
        .flat_map(|policy| policy["PolicyDocument"]["Statement"].as_array().unwrap())
    {
        assert_eq!(statement["Effect"], "Allow");
        let actions: Vec<String> = match &statement["Action"] {
            Value::Array(all) => all.iter().map(|a| a.as_str().unwrap().to_owned()).collect(),
            one => vec![one.as_str().unwrap().to_owned()],
        };
        for action in actions {
            grants.push((action, statement["Resource"].to_string()));
        }
    }
    grants
}

#[test]
fn the_account_function_may_change_exactly_the_table_and_the_pool() {
    let changes: Vec<(String, String)> = grants("AccountRole")
        .into_iter()
        .filter(|(action, _)| !action.starts_with("logs:") && !action.starts_with("xray:"))
        .collect();
    let table = json!({ "Fn::GetAtt": ["UsersTable", "Arn"] }).to_string();
    let pool = json!({ "Fn::GetAtt": ["UserPool", "Arn"] }).to_string();
    let expected: Vec<(String, String)> = [
        ("dynamodb:GetItem", &table),
        ("dynamodb:PutItem", &table),
        ("cognito-idp:AdminUpdateUserAttributes", &pool),
        ("cognito-idp:AdminUserGlobalSignOut", &pool),
        ("cognito-idp:AdminDeleteUser", &pool),
    ]
    .into_iter()
    .map(|(a, r)| (a.to_owned(), r.clone()))
    .collect();
    assert_eq!(changes, expected);
}

#[test]
fn the_greeting_only_reads() {
    for (action, resource) in grants("GreetingRole") {
        let service_action = action.split(':').nth(1).unwrap_or_default();
        let writes_its_logs = action.starts_with("logs:") || action.starts_with("xray:");
        assert!(
            writes_its_logs
                || service_action.starts_with("Get")
                || service_action.starts_with("List"),
            "the greeting may {action} on {resource}"
        );
    }
}

/// Python's `jsonschema` verdict on each document: true when valid.
fn python_verdicts(documents: &[Value]) -> Vec<bool> {
    let python = Venv::INFRA
        .python()
        .unwrap_or_else(|err| panic!("the infra venv: {err}"));
    let mut child = Command::new(python)
        .arg(workspace().join("tests/infra/schema_verdicts.py"))
        .arg(workspace().join("functions/account/schema/rename-request.json"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for document in documents {
        writeln!(stdin, "{document}").unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| line == "valid")
        .collect()
}

#[test]
fn three_implementations_of_the_schema_agree_on_every_kind_of_body() {
    let names = [
        "Ada",
        "Ada Lovelace",
        "李小龍",
        "👩‍💻",
        "Zoë O'Brien",
        "",
        " ",
        " Ada",
        "Ada ",
        "\u{a0}Ada",
        "Ada\u{3000}",
        "A\tB",
        "A\nB",
        "A\u{7}B",
        "A\u{85}B",
        "A\u{202e}B",
        "A\u{2067}B",
        "A\u{200e}",
        "A\u{2028}B",
        "\u{feff}Ada",
        "A\u{200b}",
        "A\u{200d}B",
    ];
    let mut documents: Vec<Value> = names.iter().map(|name| json!({ "name": name })).collect();
    documents.push(json!({ "name": "😀".repeat(128) }));
    documents.push(json!({ "name": "😀".repeat(129) }));
    documents.push(json!({ "name": "a".repeat(128) }));
    documents.push(json!({ "name": "a".repeat(129) }));
    documents.push(json!({ "name": 42 }));
    documents.push(json!({ "name": null }));
    documents.push(json!({}));
    documents.push(json!(["Ada"]));
    documents.push(json!("Ada"));
    documents.push(json!({ "name": "Ada", "user_id": "someone-else" }));
    let python = python_verdicts(&documents);
    // A complete draft-4 validator in Rust too, beside the function's check
    // of the keywords the file uses.
    let complete = jsonschema::draft4::new(&schema_file()).unwrap();
    for (document, python) in documents.iter().zip(python) {
        let function = rename_request(Some(&document.to_string()), false).is_ok();
        assert_eq!(
            function, python,
            "the function and Python disagree on {document}"
        );
        assert_eq!(
            function,
            complete.is_valid(document),
            "the function and the jsonschema crate disagree on {document}"
        );
    }
    // And the limit is code points in both: 128 emoji pass, 129 do not.
    let limit = documents.len() - 10;
    assert!(rename_request(Some(&documents[limit].to_string()), false).is_ok());
    assert!(rename_request(Some(&documents[limit + 1].to_string()), false).is_err());
}

#[test]
fn a_new_stack_s_pool_signs_in_by_email_whatever_its_case() {
    let pool = &resource("UserPool")["Properties"];
    assert_eq!(pool["UsernameConfiguration"]["CaseSensitive"], false);
    assert!(template()["Resources"]["UserPool"]["UpdateReplacePolicy"] == "Retain");
}

/// A list property of a resource, as strings.
fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|all| all.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The sign-ins Cognito answers through its API without IAM credentials:
/// their access tokens always carry `aws.cognito.signin.user.admin`
/// (`ALLOW_USER_AUTH` covers password and SRP on its own).
const SELF_SERVICE_SIGN_INS: [&str; 6] = [
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_CUSTOM_AUTH",
    "ALLOW_USER_AUTH",
    "USER_PASSWORD_AUTH",
    "CUSTOM_AUTH_FLOW_ONLY",
];

const ADMIN_SCOPE: &str = "aws.cognito.signin.user.admin";

#[test]
fn no_token_a_user_can_get_may_change_their_name_or_email_behind_the_pipeline() {
    // Changing one's own attributes (UpdateUserAttributes) or deleting
    // oneself (DeleteUser) takes an access token with the admin scope.
    let clients: Vec<(&String, &Value)> = onboard_tests::template::resources()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Cognito::UserPoolClient")
        .collect();
    assert_eq!(clients.len(), 2, "the web client and the CLI's");
    for (name, client) in clients {
        let properties = &client["Properties"];
        // Left out, ExplicitAuthFlows defaults to SRP and custom sign-in.
        let flows = strings(&properties["ExplicitAuthFlows"]);
        assert!(!flows.is_empty(), "{name} sets its flows");
        for flow in &flows {
            assert!(
                !SELF_SERVICE_SIGN_INS.contains(flow),
                "{name} allows {flow}, whose tokens carry {ADMIN_SCOPE}"
            );
        }
        assert!(
            !strings(&properties["AllowedOAuthScopes"]).contains(&ADMIN_SCOPE),
            "{name} grants {ADMIN_SCOPE} through the hosted UI"
        );
        // Sign-up writes what the pool requires, and nothing else.
        assert_eq!(
            strings(&properties["WriteAttributes"]),
            ["email", "name"],
            "{name}"
        );
    }
    let required: Vec<&str> = resource("UserPool")["Properties"]["Schema"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["Required"] == true)
        .filter_map(|a| a["Name"].as_str())
        .collect();
    assert_eq!(required, ["email", "name"]);

    // The web client signs in only through the hosted UI.
    let web = &resource("UserPoolClient")["Properties"];
    assert_eq!(
        strings(&web["ExplicitAuthFlows"]),
        ["ALLOW_REFRESH_TOKEN_AUTH"]
    );
    assert_eq!(strings(&web["AllowedOAuthFlows"]), ["code"]);
    // The CLI's client only as an administrator, with IAM credentials.
    let cli = &resource("CliClient")["Properties"];
    assert_eq!(
        strings(&cli["ExplicitAuthFlows"]),
        ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    );
    assert!(cli["AllowedOAuthFlows"].is_null(), "no hosted UI sign-in");
}

#[test]
fn no_role_of_the_stack_may_sign_a_user_in() {
    let roles: Vec<&String> = onboard_tests::template::resources()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::IAM::Role")
        .map(|(name, _)| name)
        .collect();
    assert!(roles.len() >= 6, "{roles:?}");
    for role in roles {
        for (action, on) in grants(role) {
            assert!(
                action != "*"
                    && action != "cognito-idp:*"
                    && !action.starts_with("cognito-idp:AdminInitiateAuth")
                    && !action.starts_with("cognito-idp:AdminRespondToAuthChallenge"),
                "{role} may {action} on {on}"
            );
        }
    }
}

#[test]
fn the_local_hosted_ui_grants_the_scopes_the_web_client_allows() {
    let web = &resource("UserPoolClient")["Properties"];
    assert_eq!(
        strings(&web["AllowedOAuthScopes"]),
        onboard_cli::stack::WEB_CLIENT_SCOPES
    );
}
