//! The body of `PATCH /me`, checked against the request schema: the one
//! file (`schema/rename-request.json`) that is also API Gateway's Model in
//! `infra/template.yaml` (a test keeps the two equal). API Gateway checks
//! it before the function runs; the function checks it again, so that
//! `onboard serve` and `onboard replay`, which have no API Gateway, refuse
//! exactly what it refuses.
//!
//! The reasons given never quote the value sent: a 400's body goes back to
//! the caller only, and nothing here is logged.

use std::sync::OnceLock;

use base64::Engine;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use onboard_shared::domain::DisplayName;
use serde_json::Value;

/// The request schema, as shipped.
pub const RENAME_SCHEMA: &str = include_str!("../schema/rename-request.json");

/// The schema's validator, compiled once (draft 4, as API Gateway's Models).
fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: Value = serde_json::from_str(RENAME_SCHEMA)
            .unwrap_or_else(|err| unreachable!("the shipped schema is JSON: {err}"));
        jsonschema::draft4::new(&schema)
            .unwrap_or_else(|err| unreachable!("the shipped schema compiles: {err}"))
    })
}

/// A body the schema refused, and why, in words for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest {
    pub errors: Vec<String>,
}

/// The new name of a `PATCH /me` body, or why the body is refused.
pub fn rename_request(body: Option<&str>, base64_encoded: bool) -> Result<DisplayName, BadRequest> {
    let refuse = |why: &str| BadRequest {
        errors: vec![why.to_owned()],
    };
    let body = body.unwrap_or_default();
    let decoded;
    let text = if base64_encoded {
        decoded = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| refuse("the body is not valid base64"))?;
        std::str::from_utf8(&decoded).map_err(|_| refuse("the body is not UTF-8 text"))?
    } else {
        body
    };
    let instance: Value =
        serde_json::from_str(text).map_err(|_| refuse("the body is not a JSON document"))?;
    let errors: Vec<String> = validator()
        .iter_errors(&instance)
        .map(|e| reason(&e))
        .collect();
    if !errors.is_empty() {
        return Err(BadRequest { errors });
    }
    match instance.get("name").and_then(Value::as_str) {
        Some(name) => Ok(DisplayName::accepted_by_schema(name.to_owned())),
        // The schema requires a string `name`: unreachable while it stands.
        None => Err(refuse("`name` is required")),
    }
}

/// One schema error in words that do not quote the value.
fn reason(error: &jsonschema::ValidationError<'_>) -> String {
    let path = error.instance_path().as_str();
    let field = match path.strip_prefix('/') {
        Some(field) if !field.is_empty() => format!("`{field}`"),
        _ => "the body".to_owned(),
    };
    match error.kind() {
        ValidationErrorKind::Type { kind } => {
            let wanted = match kind {
                TypeKind::Single(kind) => kind.to_string(),
                TypeKind::Multiple(_) => "another type".to_owned(),
            };
            format!("{field} must be of type {wanted}")
        }
        ValidationErrorKind::Required { property } => match property.as_str() {
            Some(name) => format!("`{name}` is required"),
            None => "a property is required".to_owned(),
        },
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let names: Vec<String> = unexpected
                .iter()
                .map(|name| format!("`{}`", name.chars().take(64).collect::<String>()))
                .collect();
            format!("{field} may not hold {}", names.join(", "))
        }
        ValidationErrorKind::MinLength { limit } if *limit <= 1 => {
            format!("{field} must not be empty")
        }
        ValidationErrorKind::MinLength { limit } => {
            format!("{field} must be at least {limit} characters")
        }
        ValidationErrorKind::MaxLength { limit } => {
            format!("{field} must be at most {limit} characters")
        }
        ValidationErrorKind::Pattern { .. } => format!(
            "{field} must not hold control, line-separator or bidirectional-formatting \
             characters, nor begin or end with whitespace"
        ),
        _ => format!("{field} does not match the request schema"),
    }
}

#[cfg(test)]
mod tests;
