//! Where a stack keeps its tenants: derived from the stack name as template.yaml names
//! them, each overridable by the variable the functions get.

#[derive(Debug, Clone)]
pub struct Names {
    pub stack: String,
    pub tenants_table: String,
    pub contacts_table: String,
    pub audit_table: String,
    /// What webhooks keep (the last event received, for `doctor`).
    pub state_table: String,
    pub secrets_prefix: String,
    pub key_alias: String,
}

impl Names {
    pub fn resolve(stack: &str) -> Self {
        let var = |name: &str, default: String| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or(default)
        };
        Self {
            stack: stack.to_string(),
            tenants_table: var("TENANTS_TABLE", format!("{stack}-tenants")),
            contacts_table: var("CONTACTS_TABLE", format!("{stack}-contacts")),
            audit_table: var("AUDIT_TABLE", format!("{stack}-audit")),
            state_table: var("STATE_TABLE", format!("{stack}-state")),
            secrets_prefix: var("SECRETS_PREFIX", format!("{stack}/tenants/")),
            key_alias: var("TENANT_KEY_ALIAS", format!("alias/{stack}-tenants")),
        }
    }
}
