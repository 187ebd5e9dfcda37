//! A tool's arguments: parsed from the request body with errors in plain words that name
//! the field and what it takes, and published as JSON Schema in the shapes LLM providers
//! take (OpenAI strict function calling, Anthropic tool use). One schema, generated from
//! the Rust type, is both what we publish and what the error messages describe.
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// The formats OpenAI's strict mode accepts; others (`uint32`, ...) are dropped.
const STRICT_FORMATS: &[&str] = &[
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

/// The arguments' schema as a request may use it: optional fields may be left out or
/// `null`; no `$ref`s, no titles, no Rust-only formats.
pub fn schema<A: JsonSchema>() -> Value {
    let mut root = serde_json::to_value(schemars::schema_for!(A)).unwrap_or(Value::Null);
    let defs = root
        .as_object_mut()
        .and_then(|o| o.remove("$defs"))
        .unwrap_or(Value::Null);
    let mut v = inline(root, &defs);
    tidy(&mut v);
    if let Some(obj) = v.as_object_mut() {
        obj.entry("properties").or_insert_with(|| json!({}));
        obj.insert("additionalProperties".into(), Value::Bool(false));
    }
    v
}

/// The same schema as OpenAI's strict mode requires it: every property listed in
/// `required` (optional ones nullable) and `additionalProperties: false` on every object.
pub fn strict(lenient: &Value) -> Value {
    let mut v = lenient.clone();
    make_strict(&mut v);
    v
}

fn inline(v: Value, defs: &Value) -> Value {
    match v {
        Value::Object(mut obj) => {
            if let Some(Value::String(r)) = obj.remove("$ref") {
                let name = r.trim_start_matches("#/$defs/");
                if let Some(Value::Object(def)) = defs.get(name).cloned() {
                    for (k, val) in def {
                        obj.entry(k).or_insert(val);
                    }
                }
            }
            Value::Object(obj.into_iter().map(|(k, v)| (k, inline(v, defs))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(|v| inline(v, defs)).collect()),
        other => other,
    }
}

/// Drops what providers reject or ignore and folds `anyOf: [X, null]` into a nullable X.
fn tidy(v: &mut Value) {
    let Some(obj) = v.as_object_mut() else {
        if let Value::Array(items) = v {
            items.iter_mut().for_each(tidy);
        }
        return;
    };
    obj.remove("$schema");
    obj.remove("title");
    if obj.get("default") == Some(&Value::Null) {
        obj.remove("default");
    }
    if obj
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| !STRICT_FORMATS.contains(&f))
    {
        obj.remove("format");
        // `minimum: 0` came with the unsigned format; a real bound stays.
        if obj.get("minimum") == Some(&json!(0)) {
            obj.remove("minimum");
        }
    }
    if let Some(Value::Array(branches)) = obj.get("anyOf")
        && branches.len() == 2
        && let Some(pos) = branches.iter().position(|b| b == &json!({"type": "null"}))
    {
        let Some(Value::Object(other)) = branches.get(1 - pos).cloned() else {
            return;
        };
        obj.remove("anyOf");
        for (k, val) in other {
            obj.entry(k).or_insert(val);
        }
        nullable(obj);
    }
    obj.values_mut().for_each(tidy);
}

fn nullable(obj: &mut Map<String, Value>) {
    match obj.get_mut("type") {
        Some(Value::String(t)) => {
            let t = t.clone();
            if t != "null" {
                obj.insert("type".into(), json!([t, "null"]));
            }
        }
        Some(Value::Array(ts)) if !ts.contains(&json!("null")) => ts.push(json!("null")),
        _ => {}
    }
    if let Some(Value::Array(values)) = obj.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
}

fn make_strict(v: &mut Value) {
    let Some(obj) = v.as_object_mut() else {
        if let Value::Array(items) = v {
            items.iter_mut().for_each(make_strict);
        }
        return;
    };
    let is_object = match obj.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(ts)) => ts.contains(&json!("object")),
        _ => false,
    };
    if is_object {
        let required: Vec<String> = obj
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let mut all = Vec::new();
        if let Some(Value::Object(props)) = obj.get_mut("properties") {
            for (name, prop) in props.iter_mut() {
                if !required.contains(name)
                    && let Some(p) = prop.as_object_mut()
                {
                    nullable(p);
                }
                all.push(Value::String(name.clone()));
            }
        }
        obj.insert("required".into(), Value::Array(all));
        obj.insert("additionalProperties".into(), Value::Bool(false));
    }
    obj.values_mut().for_each(make_strict);
}

/// A time an argument gives (RFC 3339), as unix seconds; the error names the field.
pub fn parse_arg(field: &str, s: &str) -> Result<i64, crate::error::ApiError> {
    crate::timefmt::parse(s).ok_or_else(|| {
        crate::error::ApiError::invalid_request(format!(
            "Invalid field `{field}`: must be an RFC 3339 time such as 2026-01-01T00:00:00Z."
        ))
        .with_reason("invalid_field")
    })
}

/// The body as the tool's arguments, or a 400 in plain words. `seen` receives the JSON for
/// the audit record.
pub fn parse<A: DeserializeOwned + JsonSchema>(
    tool: &str,
    bytes: &[u8],
    seen: &mut Value,
) -> Result<A, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let mut value: Value = serde_json::from_slice(bytes).map_err(|_| {
        ApiError::invalid_request("The body is not valid JSON.").with_reason("bad_json")
    })?;
    if !value.is_object() {
        return Err(
            ApiError::invalid_request("The body must be a JSON object of arguments.")
                .with_reason("bad_json"),
        );
    }
    whole_numbers(&mut value);
    *seen = value.clone();
    serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        explain(tool, &schema::<A>(), &value, &path, &inner).with_reason("invalid_field")
    })
}

/// `2.0` is the whole number 2 to JSON Schema; serde would call it a float.
fn whole_numbers(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                && n.as_i64().is_none()
                && n.as_u64().is_none()
            {
                *v = json!(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(obj) => obj.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

/// A serde failure said as what the field takes, from the schema, never a Rust type.
fn explain(tool: &str, schema: &Value, value: &Value, path: &str, serde_msg: &str) -> ApiError {
    let quoted = serde_msg.split('`').nth(1).unwrap_or_default();
    if serde_msg.starts_with("unknown field") {
        let parent = schema_at(schema, parent_of(path));
        let names: Vec<String> = parent
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object)
            .map(|p| p.keys().map(|k| format!("`{k}`")).collect())
            .unwrap_or_default();
        let field = field_name(path, quoted);
        let message = if names.is_empty() {
            format!("`{field}` is not an argument: {tool} takes none; send {{}}.")
        } else {
            format!(
                "`{field}` is not an argument of {tool}; it takes {}.",
                join_or(&names, "and")
            )
        };
        return ApiError::invalid_request(message);
    }
    if serde_msg.starts_with("missing field") {
        let field = field_name(path, quoted);
        let full = if path == "." || path.is_empty() {
            field.clone()
        } else {
            format!("{path}.{field}")
        };
        let takes = schema_at(schema, &full).map(describe).unwrap_or_default();
        return ApiError::invalid_request(format!("`{field}` is required: {takes}."));
    }
    // A value of the right kind that is still not one (a typed id) says why itself.
    if serde_msg.starts_with("must be ") || serde_msg.starts_with("too long") {
        return ApiError::invalid_request(format!("Invalid field `{path}`: {serde_msg}."));
    }
    let given = value_at(value, path);
    let takes = schema_at(schema, path).map(describe);
    let message = match (takes, given) {
        (Some(takes), Some(given)) if !same_kind(schema_at(schema, path), given) => {
            format!(
                "Invalid field `{path}`: must be {takes}, not {}.",
                kind_of(given)
            )
        }
        (Some(takes), _) => format!("Invalid field `{path}`: must be {takes}."),
        (None, _) => format!("Invalid field `{path}`."),
    };
    ApiError::invalid_request(message)
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('.').map_or(".", |(p, _)| p)
}

fn field_name(path: &str, quoted: &str) -> String {
    if quoted.is_empty() {
        path.rsplit('.').next().unwrap_or(path).to_string()
    } else {
        quoted.to_string()
    }
}

fn schema_at<'a>(schema: &'a Value, path: &str) -> Option<&'a Value> {
    if path == "." || path.is_empty() {
        return Some(schema);
    }
    path.split('.')
        .try_fold(schema, |s, seg| s.get("properties")?.get(seg))
}

fn value_at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, seg| v.get(seg))
}

fn types_of(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// "a whole number from 1 to 24", "one of `a`, `b` or `c`", "a string", ...
fn describe(schema: &Value) -> String {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let names: Vec<String> = values
            .iter()
            .filter_map(Value::as_str)
            .map(|v| format!("`{v}`"))
            .collect();
        return format!("one of {}", join_or(&names, "or"));
    }
    let kind = types_of(schema).into_iter().find(|t| *t != "null");
    let (min, max) = (
        schema.get("minimum").and_then(Value::as_i64),
        schema.get("maximum").and_then(Value::as_i64),
    );
    match kind {
        Some("integer") => match (min, max) {
            (Some(a), Some(b)) => format!("a whole number from {a} to {b}"),
            (Some(a), None) => format!("a whole number of at least {a}"),
            _ => "a whole number".into(),
        },
        Some("number") => "a number".into(),
        Some("string") => "a string".into(),
        Some("boolean") => "true or false".into(),
        Some("array") => "a list".into(),
        Some("object") => "an object".into(),
        _ => "a valid value".into(),
    }
}

fn same_kind(schema: Option<&Value>, given: &Value) -> bool {
    let types = schema.map(types_of).unwrap_or_default();
    let kind = match given {
        Value::String(_) => "string",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    };
    types.contains(&kind)
}

fn kind_of(v: &Value) -> String {
    match v {
        Value::String(_) => "a string".into(),
        Value::Number(n) if n.as_i64().is_some_and(|i| i < 0) => "a negative number".into(),
        Value::Number(n) if n.is_i64() || n.is_u64() => format!("{n}"),
        Value::Number(_) => "a number with a fraction".into(),
        Value::Bool(_) => "true or false".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
        Value::Null => "null".into(),
    }
}

fn join_or(items: &[String], word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {word} {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_argument_names_its_field() {
        let e = parse_arg("since", "soon").unwrap_err();
        assert_eq!(e.code, "invalid_request");
        assert!(e.message.contains("`since`"), "{}", e.message);
    }
    use serde::Deserialize;

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Args {
        #[serde(default)]
        #[schemars(range(min = 1, max = 24))]
        limit: Option<u32>,
        #[serde(default)]
        flow: Option<Flow>,
        id: String,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(rename_all = "snake_case")]
    enum Flow {
        PaymentMethodUpdate,
        SubscriptionCancel,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Nothing {}

    fn message(body: &str) -> String {
        parse::<Args>("t", body.as_bytes(), &mut Value::Null)
            .unwrap_err()
            .message
    }

    #[test]
    fn errors_name_the_field_and_what_it_takes_in_plain_words() {
        assert_eq!(
            message(r#"{"id":"x","limit":"5"}"#),
            "Invalid field `limit`: must be a whole number from 1 to 24, not a string."
        );
        assert_eq!(
            message(r#"{"id":"x","limit":2.5}"#),
            "Invalid field `limit`: must be a whole number from 1 to 24, not a number with a fraction."
        );
        assert_eq!(
            message(r#"{"id":"x","flow":"nope"}"#),
            "Invalid field `flow`: must be one of `payment_method_update` or `subscription_cancel`."
        );
        assert_eq!(message("{}"), "`id` is required: a string.");
        assert_eq!(
            message(r#"{"id":"x","other":1}"#),
            "`other` is not an argument of t; it takes `flow`, `id` and `limit`."
        );
        let e = parse::<Nothing>("get_x", br#"{"a":1}"#, &mut Value::Null).unwrap_err();
        assert_eq!(
            e.message,
            "`a` is not an argument: get_x takes none; send {}."
        );
        let ok: Args = parse(
            "t",
            br#"{"id":"x","limit":2.0,"flow":null}"#,
            &mut Value::Null,
        )
        .expect("2.0 is the whole number 2, null is absent");
        assert_eq!(ok.limit, Some(2));
    }

    #[test]
    fn strict_schemas_list_every_property_and_make_optional_ones_nullable() {
        let s = strict(&schema::<Args>());
        assert_eq!(s["required"], json!(["flow", "id", "limit"]));
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(s["properties"]["limit"]["type"], json!(["integer", "null"]));
        assert_eq!(s["properties"]["id"]["type"], "string");
        assert!(s["properties"]["limit"].get("format").is_none());
        assert_eq!(
            s["properties"]["flow"]["enum"],
            json!(["payment_method_update", "subscription_cancel", null])
        );
        assert!(!s.to_string().contains("$ref"));
    }
}
