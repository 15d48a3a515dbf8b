//! The body of `PATCH /me`, checked against the request schema: the one
//! file (`schema/rename-request.json`) that is also API Gateway's Model in
//! `infra/template.yaml` (a test keeps the two equal). API Gateway checks
//! it before the function runs; the function checks it again, so that
//! `onboard serve` and `onboard replay`, which have no API Gateway, refuse
//! exactly what it refuses.
//!
//! The reasons given never quote the value sent: a 400's body goes back to
//! the caller only, and nothing here is logged. The check is [`schema`]'s:
//! the draft-4 keywords the file uses, read from the file.

use std::sync::OnceLock;

use base64::Engine;
use onboard_shared::domain::DisplayName;
use serde_json::Value;

mod schema;
use schema::{Problem, Schema};

/// The request schema, as shipped.
pub const RENAME_SCHEMA: &str = include_str!("../schema/rename-request.json");

/// The schema, read once.
fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let schema: Value = serde_json::from_str(RENAME_SCHEMA)
            .unwrap_or_else(|err| unreachable!("the shipped schema is JSON: {err}"));
        Schema::read(&schema)
            .unwrap_or_else(|err| unreachable!("the shipped schema is kept by the check: {err}"))
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
    let mut problems = Vec::new();
    schema().check(&instance, "", &mut problems);
    if !problems.is_empty() {
        return Err(BadRequest {
            errors: problems.iter().map(reason).collect(),
        });
    }
    match instance.get("name").and_then(Value::as_str) {
        Some(name) => Ok(DisplayName::accepted_by_schema(name.to_owned())),
        // The schema requires a string `name`: unreachable while it stands.
        None => Err(refuse("`name` is required")),
    }
}

/// A problem in words that do not quote the value.
fn reason(problem: &Problem) -> String {
    let field = |at: &str| match at.strip_prefix('/') {
        Some(field) if !field.is_empty() => format!("`{field}`"),
        _ => "the body".to_owned(),
    };
    match problem {
        Problem::Type { at, wanted } => format!("{} must be of type {wanted}", field(at)),
        Problem::Required { property } => format!("`{property}` is required"),
        Problem::Unexpected { at, properties } => {
            let names: Vec<String> = properties
                .iter()
                .map(|name| format!("`{}`", name.chars().take(64).collect::<String>()))
                .collect();
            format!("{} may not hold {}", field(at), names.join(", "))
        }
        Problem::MinLength { at, limit } if *limit <= 1 => {
            format!("{} must not be empty", field(at))
        }
        Problem::MinLength { at, limit } => {
            format!("{} must be at least {limit} characters", field(at))
        }
        Problem::MaxLength { at, limit } => {
            format!("{} must be at most {limit} characters", field(at))
        }
        Problem::Pattern { at } => format!(
            "{} must not hold control, line-separator or bidirectional-formatting \
             characters, nor begin or end with whitespace",
            field(at)
        ),
    }
}

#[cfg(test)]
mod tests;
