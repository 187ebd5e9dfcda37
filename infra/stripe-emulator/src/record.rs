//! Every answer the emulator gives, as one JSON line each, when `STRIPE_EMULATOR_RECORD`
//! names a file: what the test suite's conformance check holds against stripe-python's
//! types (tests/e2e/conformance.py). Off, it costs one check of an unset variable.
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

static FILE: OnceLock<Option<Mutex<File>>> = OnceLock::new();

/// Notes one answer: the request's method, path, query and form (for the `expand[]` it
/// asked for), and the status and body Stripe's client got.
pub fn answer(
    method: &str,
    path: &str,
    query: Option<&str>,
    form: &[u8],
    status: u16,
    body: &Value,
) {
    let file = FILE.get_or_init(|| {
        let path = std::env::var_os("STRIPE_EMULATOR_RECORD")?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()?;
        Some(Mutex::new(file))
    });
    let Some(file) = file else {
        return;
    };
    let line = json!({
        "method": method, "path": path, "query": query.unwrap_or_default(),
        "form": String::from_utf8_lossy(form), "status": status, "body": body,
    });
    if let Ok(mut f) = file.lock() {
        let _ = writeln!(f, "{line}");
    }
}
