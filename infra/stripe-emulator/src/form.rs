//! Decodes Stripe's bracketed `x-www-form-urlencoded` encoding into nested JSON.
//!
//! `items[0][price]=x&metadata[k]=v&expand[]=a` becomes
//! `{"items":[{"price":"x"}],"metadata":{"k":"v"},"expand":["a"]}`. Leaves stay strings;
//! handlers parse numbers and booleans so a bad value becomes a 400 naming the param.

use serde_json::{Map, Value};

use crate::errors::{ApiError, ApiResult};

enum Node {
    Leaf(String),
    Map(Vec<(String, Node)>),
}

pub fn decode(raw: &[u8]) -> ApiResult<Map<String, Value>> {
    let mut root: Vec<(String, Node)> = Vec::new();
    for (key, value) in form_urlencoded::parse(raw) {
        if key.is_empty() {
            continue;
        }
        let segments = split_key(&key)?;
        insert(&mut root, &segments, value.into_owned(), &key)?;
    }
    let mut out = Map::new();
    for (k, node) in root {
        let v = to_value(node, &k);
        out.insert(k, v);
    }
    Ok(out)
}

/// `a[b][]` → `["a", "b", ""]`; the empty segment means "append".
fn split_key(key: &str) -> ApiResult<Vec<String>> {
    let bad = || ApiError::invalid(format!("Invalid parameter name: {key}"));
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if head.is_empty() {
        return Err(bad());
    }
    let mut segments = vec![head.to_string()];
    while !rest.is_empty() {
        if !rest.starts_with('[') {
            return Err(bad());
        }
        let close = rest.find(']').ok_or_else(bad)?;
        segments.push(rest[1..close].to_string());
        rest = &rest[close + 1..];
    }
    Ok(segments)
}

fn insert(
    entries: &mut Vec<(String, Node)>,
    segments: &[String],
    value: String,
    full_key: &str,
) -> ApiResult<()> {
    let conflict = || ApiError::invalid(format!("Invalid parameter structure at {full_key}"));
    let Some((first, rest)) = segments.split_first() else {
        return Ok(());
    };
    let name = if first.is_empty() {
        append_slot(entries, rest)
    } else {
        first.clone()
    };
    let pos = entries.iter().position(|(k, _)| *k == name);
    if rest.is_empty() {
        match pos {
            Some(i) => match &mut entries[i].1 {
                // Repeated scalar keys: the last one wins, as with most form parsers.
                Node::Leaf(old) => *old = value,
                Node::Map(_) => return Err(conflict()),
            },
            None => entries.push((name, Node::Leaf(value))),
        }
        return Ok(());
    }
    let i = match pos {
        Some(i) => i,
        None => {
            entries.push((name, Node::Map(Vec::new())));
            entries.len() - 1
        }
    };
    match &mut entries[i].1 {
        Node::Map(children) => insert(children, rest, value, full_key),
        Node::Leaf(_) => Err(conflict()),
    }
}

/// For `x[][a]=1&x[][b]=2` the second key fills the same element unless it already has `b`.
fn append_slot(entries: &[(String, Node)], rest: &[String]) -> String {
    if let (Some((last_key, Node::Map(children))), Some(next)) = (entries.last(), rest.first())
        && !next.is_empty()
        && !children.iter().any(|(k, _)| k == next)
    {
        return last_key.clone();
    }
    entries.len().to_string()
}

fn to_value(node: Node, key: &str) -> Value {
    match node {
        Node::Leaf(s) => Value::String(s),
        Node::Map(children) => {
            let numeric = !children.is_empty()
                && key != "metadata"
                && children.iter().all(|(k, _)| k.parse::<usize>().is_ok());
            if numeric {
                let mut indexed: Vec<(usize, Value)> = children
                    .into_iter()
                    .map(|(k, n)| (k.parse::<usize>().unwrap_or(0), to_value(n, &k)))
                    .collect();
                indexed.sort_by_key(|(i, _)| *i);
                Value::Array(indexed.into_iter().map(|(_, v)| v).collect())
            } else {
                let mut map = Map::new();
                for (k, n) in children {
                    let v = to_value(n, &k);
                    map.insert(k, v);
                }
                Value::Object(map)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(s: &str) -> Value {
        Value::Object(decode(s.as_bytes()).expect("decodes"))
    }

    #[test]
    fn nested_and_arrays() {
        assert_eq!(
            d(
                "items[0][price]=p1&items[0][quantity]=2&items[1][price]=p2&metadata[k]=v&expand[]=a&expand[]=b"
            ),
            json!({"items":[{"price":"p1","quantity":"2"},{"price":"p2"}],"metadata":{"k":"v"},"expand":["a","b"]})
        );
    }

    #[test]
    fn indexed_and_percent_encoded() {
        assert_eq!(
            d("expand%5B0%5D=x&expand%5B1%5D=y&email=a%2Bb%40c.com&name=A+B"),
            json!({"expand":["x","y"],"email":"a+b@c.com","name":"A B"})
        );
    }

    #[test]
    fn index_order_and_metadata_numeric_keys() {
        assert_eq!(
            d("expand[1]=b&expand[0]=a&metadata[0]=zero"),
            json!({"expand":["a","b"],"metadata":{"0":"zero"}})
        );
    }

    #[test]
    fn empty_value_kept_as_empty_string() {
        assert_eq!(d("pause_collection="), json!({"pause_collection":""}));
    }

    #[test]
    fn append_objects() {
        assert_eq!(
            d("x[][a]=1&x[][b]=2&x[][a]=3"),
            json!({"x":[{"a":"1","b":"2"},{"a":"3"}]})
        );
    }

    #[test]
    fn conflicts_and_bad_names_are_400() {
        assert!(decode(b"a=1&a[b]=2").is_err());
        assert!(decode(b"a[b]=1&a=2").is_err());
        assert!(decode(b"a[b=1").is_err());
        assert!(decode(b"[x]=1").is_err());
    }
}
