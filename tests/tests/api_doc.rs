//! docs/API.md cannot drift from the code: every error code with its status, every
//! `reason` the code can answer, every route and every tool argument is written there.
use std::path::Path;

fn read(rel: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn sources(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(path).unwrap());
        }
    }
}

/// The string literals that follow `marker` in the code (the reasons it can answer).
fn literals_after(code: &str, marker: &str) -> Vec<String> {
    code.match_indices(marker)
        .filter_map(|(i, _)| {
            let rest = &code[i + marker.len()..];
            let start = rest.find('"')?;
            // Only a literal right after the marker (and a status, for billing_unavailable).
            if !rest[..start]
                .chars()
                .all(|c| c.is_ascii_digit() || ", ".contains(c))
            {
                return None;
            }
            let lit = &rest[start + 1..];
            let end = lit.find('"')?;
            Some(lit[..end].to_string())
        })
        .collect()
}

#[test]
fn every_error_code_and_status_is_documented() {
    let doc = read("docs/API.md");
    for (code, status) in shared::error::CODES {
        let row = format!("| `{code}` | {status} |");
        assert!(doc.contains(&row), "docs/API.md lacks the row {row}");
    }
}

#[test]
fn every_reason_the_code_can_answer_is_documented() {
    let mut code = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/src"),
        &mut code,
    );
    let code = code.join("\n");
    let mut reasons = Vec::new();
    for marker in [
        "with_reason(",
        "identity_invalid(",
        "billing_unavailable(",
        "policy_denied(",
    ] {
        reasons.extend(literals_after(&code, marker));
    }
    reasons.sort();
    reasons.dedup();
    assert!(
        reasons.len() > 20,
        "the scan finds the reasons: {reasons:?}"
    );
    let doc = read("docs/API.md");
    for r in reasons {
        assert!(
            doc.contains(&format!("`{r}`")),
            "docs/API.md lacks reason `{r}`"
        );
    }
}

#[test]
fn every_route_and_tool_argument_is_documented() {
    let doc = read("docs/API.md");
    for (method, path) in shared::edge::routes::all() {
        assert!(
            doc.contains(&format!("`{method} {path}`"))
                || doc.contains(&format!("| `{method}` | `{path}` |")),
            "docs/API.md lacks {method} {path}"
        );
    }
    for tool in shared::endpoints::registry::tools() {
        let heading = format!("### {}\n", tool.name);
        let start = doc
            .find(&heading)
            .unwrap_or_else(|| panic!("docs/API.md has no section {heading}"));
        let section = &doc[start..];
        let section = &section[..section[4..]
            .find("\n## ")
            .or(section[4..].find("\n### "))
            .map_or(section.len(), |e| e + 4)];
        let schema = (tool.schema)();
        let props = schema["properties"].as_object().unwrap();
        for name in props.keys() {
            assert!(
                section.contains(&format!("`{name}`")),
                "{}: argument `{name}` is not documented",
                tool.name
            );
        }
        if props.is_empty() {
            assert!(section.contains("Arguments: none."), "{}", tool.name);
        }
    }
}
