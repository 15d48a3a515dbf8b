//! The part of JSON Schema draft 4 that the request schema uses, read from
//! the schema file itself: `type` (`object`, `string`), `properties`,
//! `required`, `additionalProperties: false`, `minLength`, `maxLength`
//! (counted in code points, as JSON Schema counts) and `pattern`. A
//! keyword it does not know is refused when the schema is read, so the
//! file cannot grow a rule this check would skip; a test runs the same
//! bodies through two complete draft-4 validators (the `jsonschema` crate
//! and Python's `jsonschema`) and finds the same verdicts.
//!
//! A complete validator costs the account function's binary some 2 MiB
//! (its regular-expression engines, its format checkers), over the
//! 6 MiB budget; `regex-lite` is already in every binary through the SDK.

use std::collections::BTreeMap;

use serde_json::Value;

/// A schema, read.
#[derive(Debug)]
pub(super) enum Schema {
    Object {
        properties: BTreeMap<String, Schema>,
        required: Vec<String>,
        /// `additionalProperties: false`.
        closed: bool,
    },
    String {
        min_length: Option<u64>,
        max_length: Option<u64>,
        pattern: Option<regex_lite::Regex>,
    },
}

/// What a body breaks, and where (`""` is the body, `"/name"` a property).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Problem {
    Type { at: String, wanted: &'static str },
    Required { property: String },
    Unexpected { at: String, properties: Vec<String> },
    MinLength { at: String, limit: u64 },
    MaxLength { at: String, limit: u64 },
    Pattern { at: String },
}

/// Keywords that say nothing about a body.
const ANNOTATIONS: [&str; 3] = ["$schema", "title", "description"];

impl Schema {
    /// Reads a schema; refuses a keyword or a type this check does not keep.
    pub(super) fn read(schema: &Value) -> Result<Schema, String> {
        let object = schema.as_object().ok_or("a schema is an object")?;
        let known: &[&str] = match object.get("type").and_then(Value::as_str) {
            Some("object") => &["type", "properties", "required", "additionalProperties"],
            Some("string") => &["type", "minLength", "maxLength", "pattern"],
            other => return Err(format!("type {other:?} is not kept by this check")),
        };
        if let Some(unknown) = object
            .keys()
            .find(|k| !known.contains(&k.as_str()) && !ANNOTATIONS.contains(&k.as_str()))
        {
            return Err(format!("the keyword `{unknown}` is not kept by this check"));
        }
        let count = |key: &str| object.get(key).and_then(Value::as_u64);
        if object["type"] == "string" {
            let pattern = match object.get("pattern").and_then(Value::as_str) {
                Some(pattern) => {
                    Some(regex_lite::Regex::new(pattern).map_err(|err| format!("pattern: {err}"))?)
                }
                None => None,
            };
            return Ok(Schema::String {
                min_length: count("minLength"),
                max_length: count("maxLength"),
                pattern,
            });
        }
        let mut properties = BTreeMap::new();
        for (name, property) in object
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            properties.insert(name.clone(), Schema::read(property)?);
        }
        let required = object
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|name| name.as_str().map(str::to_owned))
            .collect();
        let closed = match object.get("additionalProperties") {
            None | Some(Value::Bool(true)) => false,
            Some(Value::Bool(false)) => true,
            Some(_) => return Err("additionalProperties other than a boolean".to_owned()),
        };
        Ok(Schema::Object {
            properties,
            required,
            closed,
        })
    }

    /// Every problem of `instance` at `at`.
    pub(super) fn check(&self, instance: &Value, at: &str, problems: &mut Vec<Problem>) {
        match self {
            Schema::Object {
                properties,
                required,
                closed,
            } => {
                let Some(object) = instance.as_object() else {
                    problems.push(Problem::Type {
                        at: at.to_owned(),
                        wanted: "object",
                    });
                    return;
                };
                for property in required.iter().filter(|p| !object.contains_key(*p)) {
                    problems.push(Problem::Required {
                        property: property.clone(),
                    });
                }
                for (name, value) in object {
                    if let Some(schema) = properties.get(name) {
                        schema.check(value, &format!("{at}/{name}"), problems);
                    }
                }
                let unexpected: Vec<String> = object
                    .keys()
                    .filter(|name| !properties.contains_key(*name))
                    .cloned()
                    .collect();
                if *closed && !unexpected.is_empty() {
                    problems.push(Problem::Unexpected {
                        at: at.to_owned(),
                        properties: unexpected,
                    });
                }
            }
            Schema::String {
                min_length,
                max_length,
                pattern,
            } => {
                let Some(text) = instance.as_str() else {
                    problems.push(Problem::Type {
                        at: at.to_owned(),
                        wanted: "string",
                    });
                    return;
                };
                // JSON Schema counts characters as code points.
                let length = text.chars().count() as u64;
                if let Some(limit) = *min_length
                    && length < limit
                {
                    problems.push(Problem::MinLength {
                        at: at.to_owned(),
                        limit,
                    });
                }
                if let Some(limit) = *max_length
                    && length > limit
                {
                    problems.push(Problem::MaxLength {
                        at: at.to_owned(),
                        limit,
                    });
                }
                if let Some(pattern) = pattern
                    && !pattern.is_match(text)
                {
                    problems.push(Problem::Pattern { at: at.to_owned() });
                }
            }
        }
    }
}
