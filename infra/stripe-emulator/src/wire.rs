//! Conventions of Stripe's wire format the whole emulator shares.

pub const DEFAULT_API_VERSION: &str = "2026-10-28.endive";

/// Stripe shows the key's prefix and last four characters, never the whole key.
pub fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let last4: String = if chars.len() > 8 {
        chars[chars.len() - 4..].iter().collect()
    } else {
        String::new()
    };
    let prefix = [
        "sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_",
    ]
    .into_iter()
    .find(|p| key.starts_with(p) && key.len() > p.len() + 4)
    .unwrap_or("");
    format!("{prefix}****{last4}")
}
