//! Typed access to decoded request parameters; every bad value becomes a Stripe 400.

use serde_json::{Map, Value};

use crate::errors::{ApiError, ApiResult};

#[derive(Debug, Clone, Default)]
pub struct Params(pub Map<String, Value>);

impl Params {
    /// Rejects top-level parameters the endpoint does not know; `expand` is always allowed.
    pub fn allow(&self, allowed: &[&str]) -> ApiResult<()> {
        for key in self.0.keys() {
            if key != "expand" && !allowed.contains(&key.as_str()) {
                return Err(ApiError::unknown(key));
            }
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// A non-empty string value; an empty string reads as absent.
    pub fn str(&self, key: &str) -> ApiResult<Option<String>> {
        opt_str(self.0.get(key), key)
    }

    pub fn req_str(&self, key: &str) -> ApiResult<String> {
        self.str(key)?.ok_or_else(|| ApiError::missing(key))
    }

    pub fn int(&self, key: &str) -> ApiResult<Option<i64>> {
        opt_int(self.0.get(key), key)
    }

    pub fn bool(&self, key: &str) -> ApiResult<Option<bool>> {
        opt_bool(self.0.get(key), key)
    }

    /// `expand[]` paths, accepted as an array or a single string.
    pub fn expand(&self) -> ApiResult<Vec<String>> {
        str_list(self.0.get("expand"), "expand")
    }
}

pub fn opt_str(v: Option<&Value>, name: &str) -> ApiResult<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(ApiError::invalid_param(
            name,
            format!("Invalid string: {name} must be a string"),
        )),
    }
}

pub fn opt_int(v: Option<&Value>, name: &str) -> ApiResult<Option<i64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::invalid_integer(name, &n.to_string())),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::invalid_integer(name, s)),
        Some(other) => Err(ApiError::invalid_integer(name, &other.to_string())),
    }
}

pub fn opt_bool(v: Option<&Value>, name: &str) -> ApiResult<Option<bool>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s == "true" => Ok(Some(true)),
        Some(Value::String(s)) if s == "false" => Ok(Some(false)),
        Some(other) => Err(ApiError::invalid_param(
            name,
            format!("Invalid boolean: {}", other.as_str().unwrap_or("?")),
        )),
    }
}

pub fn str_list(v: Option<&Value>, name: &str) -> ApiResult<Vec<String>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| opt_str(Some(i), name).transpose())
            .collect(),
        Some(_) => Err(ApiError::invalid_param(
            name,
            format!("Invalid array: {name} must be an array of strings"),
        )),
    }
}

/// An object-valued parameter; `""` reads as "clear" (`Some(None)`).
pub fn opt_obj<'a>(
    v: Option<&'a Value>,
    name: &str,
) -> ApiResult<Option<Option<&'a Map<String, Value>>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(Some(None)),
        Some(Value::Object(m)) => Ok(Some(Some(m))),
        Some(_) => Err(ApiError::invalid_param(
            name,
            format!("Invalid object: {name} must be a hash"),
        )),
    }
}

/// Rejects unknown keys inside a nested hash parameter, naming them as Stripe does.
pub fn allow_nested(map: &Map<String, Value>, prefix: &str, allowed: &[&str]) -> ApiResult<()> {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(ApiError::unknown(&format!("{prefix}[{key}]")));
        }
    }
    Ok(())
}

/// Applies `metadata[k]=v` updates: `""` for a key removes it, `metadata=` clears all.
pub fn apply_metadata(target: &mut Value, param: Option<&Value>) -> ApiResult<()> {
    let Some(update) = opt_obj(param, "metadata")? else {
        return Ok(());
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Some(meta) = target.as_object_mut() else {
        return Ok(());
    };
    match update {
        None => meta.clear(),
        Some(map) => {
            for (k, v) in map {
                match opt_str(Some(v), &format!("metadata[{k}]"))? {
                    Some(s) => {
                        meta.insert(k.clone(), Value::String(s));
                    }
                    None => {
                        meta.remove(k);
                    }
                }
            }
        }
    }
    Ok(())
}
