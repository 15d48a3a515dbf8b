//! The SAM template, `infra/template.yaml`, read as cfn-lint reads it
//! (short-form intrinsics in their long form, SAM's Globals merged into
//! each function: `tests/infra/template_json.py`), for the tests that
//! check its numbers.

use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::{Venv, workspace};

/// The template's path in the workspace.
pub const TEMPLATE: &str = "infra/template.yaml";

/// The whole template, read once a test binary.
pub fn template() -> &'static Value {
    static TEMPLATE_JSON: OnceLock<Value> = OnceLock::new();
    TEMPLATE_JSON.get_or_init(|| {
        let python = Venv::INFRA
            .python()
            .unwrap_or_else(|err| panic!("the infra venv: {err}"));
        let output = Command::new(python)
            .arg("tests/infra/template_json.py")
            .arg(TEMPLATE)
            .current_dir(workspace())
            .output()
            .unwrap_or_else(|err| panic!("reading {TEMPLATE}: {err}"));
        assert!(
            output.status.success(),
            "{TEMPLATE} does not parse:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|err| panic!("reading {TEMPLATE} as JSON: {err}"))
    })
}

pub fn resources() -> &'static Map<String, Value> {
    template()["Resources"]
        .as_object()
        .unwrap_or_else(|| panic!("{TEMPLATE} has no Resources"))
}

pub fn resource(name: &str) -> &'static Value {
    resources()
        .get(name)
        .unwrap_or_else(|| panic!("{TEMPLATE} has no resource {name}"))
}

/// A number, written as a number or a string (`"1.5"`).
pub fn number(value: &Value) -> Option<f64> {
    value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

/// A resource's numeric property.
pub fn property(resource: &Value, name: &str) -> f64 {
    number(&resource["Properties"][name]).unwrap_or_else(|| {
        panic!(
            "{} has no numeric {name}",
            resource["Type"].as_str().unwrap_or("a resource")
        )
    })
}

/// A template parameter's default, as a number.
pub fn parameter_default(name: &str) -> f64 {
    number(&template()["Parameters"][name]["Default"])
        .unwrap_or_else(|| panic!("{TEMPLATE} has no numeric parameter {name}"))
}
