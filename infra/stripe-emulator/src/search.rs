//! A subset of Stripe's search query language:
//! `field:'v'`, `field~'v'`, `-field:'v'`, `metadata['k']:'v'`, joined by ` AND ` or ` OR `.

use base64::Engine;
use serde_json::{Value, json};

use crate::errors::{ApiError, ApiResult};
use crate::list;
use crate::params::Params;

#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub field: String,
    pub metadata_key: Option<String>,
    pub substring: bool,
    pub negated: bool,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub clauses: Vec<Clause>,
    pub any: bool,
}

fn bad(query: &str) -> ApiError {
    ApiError::invalid_param(
        "query",
        format!(
            "We were unable to parse your search query. Try using the format `metadata[\"key\"]:\"value\"` to query for metadata or key:\"value\" to query for other fields. Query: {query}"
        ),
    )
}

pub fn parse(query: &str, fields: &[&str]) -> ApiResult<Query> {
    let mut clauses = Vec::new();
    let mut joiners = Vec::new();
    let chars: Vec<char> = query.chars().collect();
    let mut i = 0;
    loop {
        skip_ws(&chars, &mut i);
        let (clause, next) = parse_clause(&chars, i, query)?;
        if clause.metadata_key.is_none() && !fields.contains(&clause.field.as_str()) {
            return Err(ApiError::invalid_param(
                "query",
                format!(
                    "Field `{}` is an unsupported search field for this resource.",
                    clause.field
                ),
            ));
        }
        clauses.push(clause);
        i = next;
        skip_ws(&chars, &mut i);
        if i >= chars.len() {
            break;
        }
        let word: String = chars[i..]
            .iter()
            .take_while(|c| !c.is_whitespace())
            .collect();
        if word != "AND" && word != "OR" {
            return Err(bad(query));
        }
        i += word.len();
        joiners.push(word);
    }
    let any = joiners.first().is_some_and(|j| j == "OR");
    if joiners.iter().any(|j| (j == "OR") != any) {
        return Err(ApiError::invalid_param(
            "query",
            "Search queries cannot mix AND and OR. Use one of them throughout the query.",
        ));
    }
    Ok(Query { clauses, any })
}

fn skip_ws(chars: &[char], i: &mut usize) {
    while *i < chars.len() && chars[*i].is_whitespace() {
        *i += 1;
    }
}

fn parse_clause(chars: &[char], mut i: usize, query: &str) -> ApiResult<(Clause, usize)> {
    let negated = chars.get(i) == Some(&'-');
    if negated {
        i += 1;
    }
    let start = i;
    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
        i += 1;
    }
    let field: String = chars[start..i].iter().collect();
    if field.is_empty() {
        return Err(bad(query));
    }
    let mut metadata_key = None;
    if chars.get(i) == Some(&'[') {
        if field != "metadata" {
            return Err(bad(query));
        }
        let (key, next) = quoted(chars, i + 1, query)?;
        if chars.get(next) != Some(&']') {
            return Err(bad(query));
        }
        metadata_key = Some(key);
        i = next + 1;
    }
    let substring = match chars.get(i) {
        Some(':') => false,
        Some('~') => true,
        _ => return Err(bad(query)),
    };
    let (value, next) = quoted(chars, i + 1, query)?;
    Ok((
        Clause {
            field,
            metadata_key,
            substring,
            negated,
            value,
        },
        next,
    ))
}

fn quoted(chars: &[char], i: usize, query: &str) -> ApiResult<(String, usize)> {
    let quote = match chars.get(i) {
        Some(q @ ('\'' | '"')) => *q,
        _ => return Err(bad(query)),
    };
    let mut out = String::new();
    let mut j = i + 1;
    while j < chars.len() {
        match chars[j] {
            '\\' if j + 1 < chars.len() => {
                out.push(chars[j + 1]);
                j += 2;
            }
            c if c == quote => return Ok((out, j + 1)),
            c => {
                out.push(c);
                j += 1;
            }
        }
    }
    Err(bad(query))
}

/// One page of search results (`limit`, `page`). When more remain, `next_page` is the
/// opaque token for the next call's `page`, as Stripe's SDKs page with it.
pub fn page(matched: Vec<Value>, p: &Params, url: &str) -> ApiResult<Value> {
    let limit = list::limit(p)?;
    let start = match p.str("page")? {
        Some(token) => decode_page(&token)
            .ok_or_else(|| ApiError::invalid_param("page", format!("Invalid page: {token}")))?,
        None => 0,
    };
    let rest: Vec<Value> = matched.into_iter().skip(start).collect();
    let has_more = rest.len() > limit;
    let data: Vec<Value> = rest.into_iter().take(limit).collect();
    let next_page = has_more.then(|| encode_page(start + limit));
    Ok(json!({
        "object": "search_result", "data": data, "has_more": has_more,
        "next_page": next_page, "url": url,
    }))
}

fn encode_page(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("emulator-page:{offset}"))
}

fn decode_page(token: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("emulator-page:")?
        .parse()
        .ok()
}

impl Query {
    pub fn matches(&self, obj: &Value) -> bool {
        let hit = |c: &Clause| {
            let result = match &c.metadata_key {
                Some(k) => obj["metadata"][k].as_str() == Some(c.value.as_str()),
                None => {
                    let field = obj[&c.field].as_str().unwrap_or_default().to_lowercase();
                    let want = c.value.to_lowercase();
                    if c.substring {
                        field.contains(&want)
                    } else {
                        field == want
                    }
                }
            };
            result != c.negated
        };
        if self.any {
            self.clauses.iter().any(hit)
        } else {
            self.clauses.iter().all(hit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const F: &[&str] = &["email", "name"];

    #[test]
    fn parses_and_matches() {
        let c = json!({"email":"Jo@X.com","name":"Jo","metadata":{"tier":"gold"}});
        assert!(
            parse("email:'jo@x.com'", F)
                .map(|q| q.matches(&c))
                .unwrap_or(false)
        );
        assert!(
            parse("email:\"nope\" OR metadata['tier']:'gold'", F)
                .map(|q| q.matches(&c))
                .unwrap_or(false)
        );
        assert!(
            !parse("name:'jo' AND -metadata[\"tier\"]:'gold'", F)
                .map(|q| q.matches(&c))
                .unwrap_or(true)
        );
        assert!(
            parse("email~'x.co'", F)
                .map(|q| q.matches(&c))
                .unwrap_or(false)
        );
    }

    #[test]
    fn page_tokens_round_trip() {
        assert_eq!(decode_page(&encode_page(20)), Some(20));
        assert_eq!(decode_page("nonsense"), None);
    }

    #[test]
    fn rejects_bad_syntax() {
        for q in [
            "email:x",
            "email:'a' AND",
            "email:'a' and name:'b'",
            "phonex:'1'",
            "",
            "email:'a' AND name:'b' OR name:'c'",
        ] {
            assert!(parse(q, F).is_err(), "{q}");
        }
    }
}
