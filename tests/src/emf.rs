//! CloudWatch's embedded metric format, checked as its specification says:
//! the specification's schema (`tests/emf/schema.json`), and the rules it
//! states in words: every dimension key and metric name is a member of the
//! root node, a dimension's value is a string, a metric's value a number or
//! at most 100 numbers, and the timestamp is milliseconds since the epoch.

use serde_json::Value;

const SCHEMA: &str = include_str!("../emf/schema.json");

/// Panics with every way `document` breaks the specification.
pub fn assert_valid(document: &Value) {
    let problems = problems(document);
    assert!(
        problems.is_empty(),
        "not an embedded-metric document: {problems:#?}\n{document:#}"
    );
}

/// Every way `document` breaks the specification.
pub fn problems(document: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let mut problems: Vec<String> = validator
        .iter_errors(document)
        .map(|err| format!("{}: {err}", err.instance_path()))
        .collect();
    if !problems.is_empty() {
        return problems;
    }
    let timestamp = document["_aws"]["Timestamp"].as_u64().unwrap_or_default();
    // Milliseconds: after 2001 and before 2286 (seconds would be far below).
    if !(1_000_000_000_000..10_000_000_000_000).contains(&timestamp) {
        problems.push(format!(
            "Timestamp {timestamp} is not milliseconds since the epoch"
        ));
    }
    let directives = document["_aws"]["CloudWatchMetrics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if directives.is_empty() {
        problems.push("no metric directive".to_owned());
    }
    for directive in &directives {
        for key in directive["Dimensions"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|set| set.as_array().into_iter().flatten())
            .filter_map(Value::as_str)
        {
            match document.get(key) {
                Some(Value::String(_)) => {}
                Some(other) => problems.push(format!("dimension {key} is not a string: {other}")),
                None => problems.push(format!("dimension {key} is not on the root node")),
            }
        }
        for name in directive["Metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|metric| metric["Name"].as_str())
        {
            match document.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values))
                    if values.len() <= 100 && values.iter().all(Value::is_number) => {}
                Some(other) => problems.push(format!("metric {name} is not a number: {other}")),
                None => problems.push(format!("metric {name} is not on the root node")),
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_specifications_example_passes_and_each_broken_rule_is_named() {
        let good = json!({
            "_aws": {
                "Timestamp": 1_574_109_732_004_u64,
                "CloudWatchMetrics": [{
                    "Namespace": "lambda-function-metrics",
                    "Dimensions": [["functionVersion"]],
                    "Metrics": [{"Name": "time", "Unit": "Milliseconds", "StorageResolution": 60}]
                }]
            },
            "functionVersion": "$LATEST",
            "time": 100,
            "requestId": "989ffbf8-9ace-4817-a57c-e4dd734019ee"
        });
        assert!(problems(&good).is_empty(), "{:?}", problems(&good));
        let broken = |edit: &dyn Fn(&mut Value)| {
            let mut doc = good.clone();
            edit(&mut doc);
            problems(&doc)
        };
        assert!(!broken(&|d| d["_aws"]["Timestamp"] = json!(1_574_109_732)).is_empty());
        assert!(
            !broken(&|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Things"))
                .is_empty()
        );
        assert!(
            !broken(&|d| {
                d.as_object_mut().map(|o| o.remove("time"));
            })
            .is_empty()
        );
        assert!(!broken(&|d| d["time"] = json!("100")).is_empty());
        assert!(!broken(&|d| d["functionVersion"] = json!(1)).is_empty());
        assert!(
            !broken(&|d| {
                d.as_object_mut().map(|o| o.remove("_aws"));
            })
            .is_empty()
        );
    }
}
