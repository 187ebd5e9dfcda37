//! The one endpoint table (`shared::endpoints::registry`) is the truth: the routes the
//! template deploys, the local router, `events/` and the function crates must be exactly
//! what it lists, and a tool's name is spelled in its own file alone.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use shared::edge::routes;
use shared::endpoints::registry::{ENDPOINTS, tool_names};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `binary -> (method, paths)` of every function in template.yaml (its `Metadata.Method`
/// and its `Api` events' paths; the fallback's catch-all has no method).
fn template_functions() -> BTreeMap<String, (Option<String>, Vec<String>)> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, Option<String>, Vec<String>)> = None;
    for line in read("template.yaml").lines() {
        let trimmed = line.trim();
        let top_level_resource =
            line.starts_with("  ") && !line.starts_with("   ") && trimmed.ends_with(':');
        if top_level_resource {
            if let Some((b, m, p)) = current.take() {
                out.insert(b, (m, p));
            }
            current = trimmed
                .ends_with("Function:")
                .then(|| (String::new(), None, Vec::new()));
            continue;
        }
        let Some((binary, method, paths)) = current.as_mut() else {
            continue;
        };
        if let Some(b) = trimmed.strip_prefix("Binary: ") {
            *binary = b.to_string();
        } else if let Some(m) = trimmed.strip_prefix("Method: ") {
            // The function's own method (Metadata) is at six spaces; events' are deeper.
            if line.starts_with("      Method") && !line.starts_with("       ") {
                *method = Some(m.to_string());
            }
        } else if let Some(p) = trimmed.strip_prefix("Path: ") {
            paths.push(p.to_string());
        }
    }
    if let Some((b, m, p)) = current.take() {
        out.insert(b, (m, p));
    }
    out.retain(|b, _| !b.is_empty());
    out
}

#[test]
fn the_template_deploys_exactly_the_registrys_routes() {
    let template = template_functions();
    let mut deployed: BTreeSet<(String, String)> = BTreeSet::new();
    for (binary, (method, paths)) in &template {
        if paths.iter().any(|p| p == "/{proxy+}") {
            assert_eq!(
                binary, "route-fallback",
                "only the fallback takes the catch-all"
            );
            continue;
        }
        if paths.is_empty() {
            // A scheduled function (no route).
            continue;
        }
        let method = method
            .clone()
            .unwrap_or_else(|| panic!("{binary} has no Metadata.Method"));
        for p in paths {
            deployed.insert((method.clone(), p.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> = routes::all()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p))
        .collect();
    assert_eq!(deployed, routed, "template.yaml and the route table differ");
}

#[test]
fn the_local_router_events_and_crates_follow_the_template() {
    let template = template_functions();
    let cargo = read("Cargo.toml");
    let router: BTreeSet<(String, String)> = cargo
        .split("[workspace.metadata.lambda.watch.router]")
        .nth(1)
        .expect("a router table")
        .lines()
        .take_while(|l| !l.starts_with('['))
        .filter_map(|l| {
            let (path, binary) = l.split_once(" = ")?;
            Some((
                path.trim_matches('"').to_string(),
                binary.trim_matches('"').to_string(),
            ))
        })
        .collect();
    let mut expected = BTreeSet::new();
    for (binary, (_, paths)) in &template {
        for p in paths {
            match p.as_str() {
                "/{proxy+}" => {
                    expected.insert(("/{*rest}".to_string(), binary.clone()));
                }
                other => {
                    expected.insert((other.to_string(), binary.clone()));
                }
            }
        }
    }
    assert_eq!(
        router, expected,
        "Cargo.toml's local router and template.yaml differ"
    );
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let binaries: BTreeSet<String> = template.keys().cloned().collect();
    assert_eq!(crates, binaries, "functions/ and template.yaml differ");
    let events: BTreeSet<String> = std::fs::read_dir(root().join("events"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".json").map(str::to_string)
        })
        .collect();
    assert_eq!(events, binaries, "events/ has one event per function");
}

#[test]
fn every_endpoint_of_the_registry_has_a_function() {
    let template = template_functions();
    for e in ENDPOINTS {
        let path = e.path();
        assert!(
            template
                .values()
                .any(|(m, paths)| m.as_deref() == Some(e.method) && paths.contains(&path)),
            "{} ({} {path}) has no function in template.yaml",
            e.name,
            e.method
        );
    }
}

/// The Rust files under `dir`.
fn sources(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((path, text));
        }
    }
}

#[test]
fn a_tools_name_is_spelled_in_its_own_file_alone() {
    let mut files = Vec::new();
    sources(&root().join("shared/src"), &mut files);
    for name in tool_names() {
        let quoted = format!("\"{name}\"");
        let spelled: Vec<String> = files
            .iter()
            .filter(|(_, text)| text.contains(&quoted))
            .map(|(p, _)| p.display().to_string())
            .collect();
        assert_eq!(spelled.len(), 1, "{name} is spelled in {spelled:?}");
    }
}
