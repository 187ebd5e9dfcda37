//! Request parameters as data, encoded the way Stripe reads them
//! (`items[0][price]=x`, `expand[]=a`).

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.0.push((key.into(), value.to_string()));
        self
    }

    /// A typed request's fields as Stripe's bracketed form: `a[b]=x` for a nested field,
    /// `a[0][b]=x` for a list's; absent (`None`) fields are left out.
    pub fn form(fields: &impl serde::Serialize) -> Self {
        let mut p = Self::new();
        if let Ok(serde_json::Value::Object(obj)) = serde_json::to_value(fields) {
            for (k, v) in obj {
                p.flatten(k, v);
            }
        }
        p
    }

    fn flatten(&mut self, key: String, value: serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::Null => {}
            Value::String(s) => self.0.push((key, s)),
            Value::Object(obj) => {
                for (k, v) in obj {
                    self.flatten(format!("{key}[{k}]"), v);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.into_iter().enumerate() {
                    self.flatten(format!("{key}[{i}]"), v);
                }
            }
            other => self.0.push((key, other.to_string())),
        }
    }

    pub fn expand(self, path: &str) -> Self {
        self.set("expand[]", path)
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The value set for `key` (the first, if set more than once).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn encode(&self) -> String {
        // Brackets are percent-encoded; Stripe decodes them like literal ones.
        serde_urlencoded::to_string(&self.0).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_nested_and_repeated_keys() {
        let p = Params::new()
            .set("items[0][price]", "price_1")
            .expand("data.latest_invoice")
            .expand("data.discounts")
            .set("email", "a+b@example.com");
        assert_eq!(
            p.encode(),
            "items%5B0%5D%5Bprice%5D=price_1&expand%5B%5D=data.latest_invoice&expand%5B%5D=data.discounts&email=a%2Bb%40example.com"
        );
    }
}
