//! Users and change messages from the outside: valid, or refused with a
//! reason.

use std::collections::HashMap;

use chrono::Utc;

use super::*;

fn attributes(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn a_user_from_cognito_keeps_every_attribute_but_cognito_bookkeeping() {
    let user = User::from_cognito(
        &attributes(&[
            ("sub", "8f1e-42"),
            ("email", "zoe@example.com"),
            ("name", " Zoë "),
            ("locale", "fr"),
            ("cognito:user_status", "CONFIRMED"),
        ]),
        Utc::now(),
    )
    .unwrap();
    assert_eq!(user.user_id.as_str(), "8f1e-42");
    assert_eq!(user.name.as_deref(), Some("Zoë"));
    assert_eq!(user.version, Version::FIRST);
    assert_eq!(user.attributes.keys().collect::<Vec<_>>(), ["locale"]);
}

#[test]
fn a_user_without_sub_is_a_missing_attribute_error() {
    let err = User::from_cognito(&attributes(&[("email", "a@b.co")]), Utc::now()).unwrap_err();
    assert_eq!(err, DomainError::MissingAttribute("sub"));
}

#[test]
fn user_ids_that_are_not_safe_path_segments_are_rejected() {
    for bad in ["", "a/b", "../x", "a b", "ü"] {
        assert!(UserId::parse(bad).is_err(), "{bad:?} should be rejected");
    }
    assert!(UserId::parse("eu-west-1_abc-DEF-123").is_ok());
}

#[test]
fn emails_are_parsed_and_never_shown_by_debug() {
    for bad in ["", "plain", "a@b", "a b@c.de", "@c.de", "a@@c.de", "a@.de"] {
        assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
    }
    let email = Email::parse("zoe@example.com").unwrap();
    assert!(!format!("{email:?}").contains("zoe"));
    let err = Email::parse("not an email").unwrap_err().to_string();
    assert!(!err.contains("not an email"));
}

#[test]
fn the_display_name_never_falls_back_to_the_email() {
    let mut user = User::from_cognito(
        &attributes(&[("sub", "u1"), ("email", "zoe@example.com")]),
        Utc::now(),
    )
    .unwrap();
    assert_eq!(user.display_name(), None);
    user.attributes.insert("given_name".into(), "Zoë".into());
    assert_eq!(user.display_name().as_deref(), Some("Zoë"));
    user.attributes.insert("family_name".into(), "Ng".into());
    assert_eq!(user.display_name().as_deref(), Some("Zoë Ng"));
    user.name = Some("Z".into());
    assert_eq!(user.display_name().as_deref(), Some("Z"));
}

#[test]
fn a_removal_of_a_version_comes_after_that_version() {
    let v2 = Version::new(2).unwrap();
    let live = Revision {
        version: v2,
        removed: false,
    };
    let removed = Revision {
        version: v2,
        removed: true,
    };
    let v3 = Revision {
        version: v2.next(),
        removed: false,
    };
    assert!(live < removed && removed < v3);
}

#[test]
fn a_message_whose_version_disagrees_with_its_user_does_not_parse() {
    let body = r#"{"kind":"created","user":{"user_id":"u1","created_at":"2026-01-01T00:00:00.000Z","version":2},"version":1,"event_id":"e","sequence_number":"1"}"#;
    let err = ChangeMessage::from_json(body).unwrap_err().to_string();
    assert!(err.contains("differs"), "{err}");
}
