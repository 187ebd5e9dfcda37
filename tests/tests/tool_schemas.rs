//! The published tool schemas obey each provider's documented rules, so a platform can pass
//! them through unchanged: OpenAI's strict function calling ("Supported schemas" in its
//! Structured Outputs guide) and Anthropic's tool use (`input_schema` is a JSON Schema
//! object; names match `^[a-zA-Z0-9_-]{1,64}$`).
use integration::{Harness, TENANT};
use serde_json::Value;

const OPENAI_FORMATS: &[&str] = &[
    "date-time",
    "time",
    "date",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
];
const OPENAI_KEYWORDS: &[&str] = &[
    "type",
    "description",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "anyOf",
    "items",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "const",
    "$defs",
    "$ref",
];

fn name_ok(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Every rule strict mode states, checked at every level of the schema.
fn openai_strict_violations(s: &Value, at: &str, out: &mut Vec<String>) {
    let Some(obj) = s.as_object() else { return };
    for k in obj.keys() {
        if !OPENAI_KEYWORDS.contains(&k.as_str()) {
            out.push(format!("{at}: keyword `{k}` is not supported"));
        }
    }
    if let Some(f) = obj.get("format").and_then(Value::as_str)
        && !OPENAI_FORMATS.contains(&f)
    {
        out.push(format!("{at}: format `{f}` is not supported"));
    }
    let is_object =
        obj.get("type") == Some(&Value::from("object")) || obj.get("properties").is_some();
    if is_object {
        if obj.get("additionalProperties") != Some(&Value::Bool(false)) {
            out.push(format!("{at}: additionalProperties must be false"));
        }
        let props: Vec<&String> = obj
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().collect())
            .unwrap_or_default();
        let required: Vec<&str> = obj
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for p in &props {
            if !required.contains(&p.as_str()) {
                out.push(format!("{at}: property `{p}` is not in required"));
            }
        }
    }
    for (k, v) in obj {
        match v {
            Value::Object(_) if k == "properties" => {
                for (name, p) in v.as_object().unwrap() {
                    openai_strict_violations(p, &format!("{at}.{name}"), out);
                }
            }
            Value::Object(_) => openai_strict_violations(v, &format!("{at}/{k}"), out),
            Value::Array(items) if k == "anyOf" => {
                for (i, item) in items.iter().enumerate() {
                    openai_strict_violations(item, &format!("{at}/anyOf[{i}]"), out);
                }
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn openai_shape_passes_strict_mode_rules() {
    let h = Harness::new().await;
    let (status, body) = h.tool_list_as(TENANT, None).await;
    assert_eq!(status, 200, "{body}");
    let tools = body["tools"].as_array().unwrap();
    assert_eq!(tools.len(), shared::endpoints::registry::tools().len());
    for t in tools {
        assert_eq!(t["type"], "function");
        let f = &t["function"];
        let name = f["name"].as_str().unwrap();
        assert!(name_ok(name), "{name}");
        assert_eq!(f["strict"], true);
        let p = &f["parameters"];
        assert_eq!(p["type"], "object", "{name}: the root is an object");
        assert!(p.get("anyOf").is_none(), "{name}: the root is not anyOf");
        let mut problems = Vec::new();
        openai_strict_violations(p, name, &mut problems);
        assert!(problems.is_empty(), "{problems:#?}");
        // Optional arguments stay optional in meaning: they accept null.
        for (prop, s) in p["properties"].as_object().unwrap() {
            let lenient = (shared::endpoints::registry::tools()
                .into_iter()
                .find(|i| i.name == name)
                .unwrap()
                .schema)();
            let was_required = lenient["required"]
                .as_array()
                .is_some_and(|r| r.contains(&Value::from(prop.as_str())));
            let nullable = s["type"]
                .as_array()
                .is_some_and(|ts| ts.contains(&Value::from("null")));
            assert_eq!(nullable, !was_required, "{name}.{prop}: {s}");
        }
    }
}

#[tokio::test]
async fn anthropic_shape_has_name_description_and_an_object_input_schema() {
    let h = Harness::new().await;
    let (status, body) = h.tool_list_as(TENANT, Some("anthropic")).await;
    assert_eq!(status, 200, "{body}");
    for t in body["tools"].as_array().unwrap() {
        let keys: Vec<&String> = t.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["description", "input_schema", "name"], "{t}");
        assert!(name_ok(t["name"].as_str().unwrap()));
        assert!(!t["description"].as_str().unwrap().is_empty());
        let s = &t["input_schema"];
        assert_eq!(s["type"], "object");
        assert!(s["properties"].is_object());
        assert!(!s.to_string().contains("$ref"), "self-contained: {s}");
        // Each published schema is itself a valid JSON Schema.
        jsonschema::validator_for(s).expect("a valid JSON Schema");
    }
    let (status, body) = h.tool_list_as(TENANT, Some("yaml")).await;
    assert_eq!(status, 400, "{body}");
}
