//! The request schema, as the function reads it: what it accepts and what
//! it refuses, with the reason it gives.

use super::*;

fn body(name: &str) -> String {
    serde_json::json!({ "name": name }).to_string()
}

fn accepted(raw: &str) -> String {
    rename_request(Some(raw), false)
        .unwrap_or_else(|bad| panic!("refused {raw:?}: {:?}", bad.errors))
        .as_str()
        .to_owned()
}

fn refused(raw: &str) -> Vec<String> {
    match rename_request(Some(raw), false) {
        Ok(name) => panic!("accepted {raw:?} as {name:?}"),
        Err(bad) => bad.errors,
    }
}

#[test]
fn a_name_with_inner_spaces_accents_and_emoji_sequences_is_accepted() {
    for name in [
        "Ada",
        "Ada Lovelace",
        "Zoë O'Brien",
        "李小龍",
        "👩‍💻 dev",
        "a",
    ] {
        assert_eq!(accepted(&body(name)), name);
    }
}

#[test]
fn one_hundred_and_twenty_eight_code_points_outside_the_basic_plane_are_the_limit() {
    // 128 emoji are 256 UTF-16 units and 512 UTF-8 bytes: the limit counts
    // code points, as JSON Schema does.
    let at_limit = "😀".repeat(128);
    assert_eq!(accepted(&body(&at_limit)), at_limit);
    let errors = refused(&body(&"😀".repeat(129)));
    assert_eq!(errors, ["`name` must be at most 128 characters"]);
}

#[test]
fn empty_blank_padded_control_and_bidi_names_are_refused_with_the_rule() {
    let rule = "`name` must not hold control, line-separator or bidirectional-formatting \
                characters, nor begin or end with whitespace";
    assert_eq!(refused(&body("")), ["`name` must not be empty", rule]);
    for name in [
        " ",
        " Ada",
        "Ada ",
        "\u{a0}Ada",
        "Ada\u{3000}",
        "Ada\tL",
        "Ada\nL",
        "A\u{7}",
        "A\u{85}B",
        "A\u{202e}B",
        "A\u{2066}B",
        "A\u{200f}",
        "A\u{2028}B",
        "\u{feff}Ada",
    ] {
        assert_eq!(refused(&body(name)), [rule], "{name:?}");
    }
}

#[test]
fn bodies_of_the_wrong_shape_are_refused_without_quoting_the_value() {
    assert_eq!(refused("{\"name\":"), ["the body is not a JSON document"]);
    assert_eq!(refused(""), ["the body is not a JSON document"]);
    assert_eq!(refused("{\"name\":42}"), ["`name` must be of type string"]);
    assert_eq!(refused("[\"Ada\"]"), ["the body must be of type object"]);
    assert_eq!(refused("{}"), ["`name` is required"]);
    assert_eq!(
        refused(r#"{"name":"Ada","user_id":"someone-else"}"#),
        ["the body may not hold `user_id`"]
    );
    let secret = "Zed\u{7}secret";
    assert!(refused(&body(secret)).iter().all(|e| !e.contains("secret")));
}

#[test]
fn a_base64_body_is_decoded_first() {
    let encoded = base64::engine::general_purpose::STANDARD.encode(body("Ada"));
    assert_eq!(
        rename_request(Some(&encoded), true).map(|n| n.as_str().to_owned()),
        Ok("Ada".to_owned())
    );
}

#[test]
fn a_schema_with_a_keyword_the_check_does_not_keep_is_refused_when_read() {
    for schema in [
        r#"{"type":"object","properties":{"name":{"type":"string","format":"email"}}}"#,
        r#"{"type":"object","minProperties":1}"#,
        r#"{"type":"integer"}"#,
        r#"{"type":"object","additionalProperties":{"type":"string"}}"#,
    ] {
        let value: Value = serde_json::from_str(schema).unwrap();
        assert!(Schema::read(&value).is_err(), "{schema}");
    }
    let shipped: Value = serde_json::from_str(RENAME_SCHEMA).unwrap();
    assert!(Schema::read(&shipped).is_ok());
}
