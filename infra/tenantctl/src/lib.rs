//! The operator's command. Every verb runs against the stack's DynamoDB tables, KMS key
//! and Secrets Manager secrets, found by the stack's name (or by the variables a function
//! gets, as `.local/demo.env` sets them for the local stack); the AWS SDK finds the
//! endpoint, so the same binary works locally and in AWS.
//!
//! Exit codes: 0 done, 1 AWS or Stripe unavailable, 2 bad arguments, 3 not found,
//! 4 refused (a key Stripe rejects, the wrong mode, a bad format), 5 already exists,
//! 6 `doctor` found a problem.
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

mod common;
mod doctor;
mod names;
mod store;
mod verbs;

pub use names::Names;

#[derive(Parser, Debug)]
#[command(
    name = "tenantctl",
    version,
    about = "Tenants of the billing bot: create, connect a Stripe key, rotate secrets, set bounds, map users, read the audit log."
)]
pub struct Cli {
    /// The CloudFormation stack whose tables, key and secrets to use (names are derived
    /// from it; TENANTS_TABLE and the like override them, as on the local stack).
    #[arg(long, global = true, env = "STACK_NAME", default_value = "stripe-bot")]
    pub stack: String,
    /// Print one JSON document (for scripts) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Subcommand, Debug)]
pub enum Verb {
    /// A new tenant with fresh identity, user-hash and agent secrets (printed only with
    /// --show-secret, only now).
    Create {
        tenant: String,
        /// Environment variable holding the merchant's Stripe key (connected as
        /// connect-key does).
        #[arg(long)]
        stripe_key_env: Option<String>,
        /// A live-mode tenant (takes live keys only); test mode otherwise.
        #[arg(long)]
        live: bool,
        #[arg(long)]
        show_secret: bool,
    },
    /// Checks a Stripe key (format, mode, Stripe's answer, each tool's permissions
    /// without side effects), stores it encrypted and turns off the tools it cannot serve.
    ConnectKey {
        tenant: String,
        #[arg(long)]
        stripe_key_env: String,
    },
    /// Adds a new secret that works at once; the old ones work until --retire-old.
    Rotate {
        tenant: String,
        kind: SecretKind,
        /// Keep only the newest secret (run once every signer uses it).
        #[arg(long)]
        retire_old: bool,
        /// Environment variable holding the new secret (required for `webhook`: Stripe
        /// makes those); generated otherwise.
        #[arg(long)]
        secret_env: Option<String>,
        #[arg(long)]
        show_secret: bool,
    },
    /// Changes settings: `policy.refunds_per_hour=5`, `allowed_prices=["price_1"]`,
    /// `allowed_origins=["https://shop.example.com"]` (values are JSON, or text). A value
    /// outside its documented range, or a return_url that is not https, is refused.
    Set {
        tenant: String,
        #[arg(required = true)]
        settings: Vec<String>,
    },
    /// Serves these tools too (adds them to `enabled_tools`).
    Enable {
        tenant: String,
        #[arg(required = true)]
        tools: Vec<String>,
    },
    /// Stops serving these tools (takes them out of `enabled_tools`).
    Disable {
        tenant: String,
        #[arg(required = true)]
        tools: Vec<String>,
    },
    /// Writes out `enabled_tools` for every tenant stored before the list existed: the
    /// tools it served then (every tool of that release but its `disabled_tools`). Run once
    /// after upgrading; running it again changes nothing.
    Migrate,
    /// Maps the merchant's user id to a Stripe customer (checked against Stripe when a key
    /// is connected).
    Map {
        tenant: String,
        user_id: String,
        customer_id: String,
    },
    /// Audit records, newest first.
    Audit {
        tenant: String,
        #[arg(long)]
        customer: Option<String>,
        /// How far back: `90s`, `30m`, `24h`, `7d`.
        #[arg(long, default_value = "24h")]
        since: String,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// The tenant's settings and how many secrets of each kind are active (never their
    /// values).
    Show { tenant: String },
    /// Checks the set-up, each finding with a plain fix: the key and its permissions, the
    /// Billing Portal configuration in the key's mode (it exists, has the features the deep
    /// links need, lists the products of the tenant's plans), return_url, the webhook
    /// endpoint (registered for this tenant's URL with the events the webhook applies),
    /// the last event received. Exit code 6 when a check fails.
    Doctor { tenant: String },
    /// Registers the tenant's webhook endpoint with Stripe (the events the webhook
    /// applies) and stores its whsec_ signing secret as the tenant's: no secret is copied
    /// by hand. The old secrets work until `rotate TENANT webhook --retire-old`.
    ConnectWebhooks {
        tenant: String,
        /// The tenant's webhook route: https://API/v1/TENANT/webhooks/stripe.
        #[arg(long)]
        url: String,
        #[arg(long)]
        show_secret: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum SecretKind {
    Identity,
    Agent,
    Webhook,
    UserHash,
    /// The agent panel's key (`bbp_...`), scoped to the panel and agent insight.
    Panel,
}

impl SecretKind {
    pub fn field(self) -> &'static str {
        match self {
            SecretKind::Identity => "identity_secrets",
            SecretKind::Agent => "agent_secrets",
            SecretKind::Webhook => "webhook_secrets",
            SecretKind::UserHash => "user_hash_secrets",
            SecretKind::Panel => "panel_keys",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SecretKind::Identity => "identity",
            SecretKind::Agent => "agent",
            SecretKind::Webhook => "webhook",
            SecretKind::UserHash => "user-hash",
            SecretKind::Panel => "panel",
        }
    }

    /// How a value of this kind starts: a panel key is told from a JWT by it.
    pub fn prefix(self) -> &'static str {
        match self {
            SecretKind::Panel => shared::auth::caller::PANEL_KEY_PREFIX,
            _ => "",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Exists(String),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Unavailable(_) => 1,
            Failure::Usage(_) => 2,
            Failure::NotFound(_) => 3,
            Failure::Refused(_) => 4,
            Failure::Exists(_) => 5,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Failure::Unavailable(_) => "unavailable",
            Failure::Usage(_) => "bad_arguments",
            Failure::NotFound(_) => "not_found",
            Failure::Refused(_) => "refused",
            Failure::Exists(_) => "exists",
        }
    }
}

/// What a verb did: the JSON for `--json` and the lines for a person.
pub struct Done {
    pub json: Value,
    pub text: Vec<String>,
}

pub async fn run(cli: Cli) -> ExitCode {
    let as_json = cli.json;
    let result = match store::Aws::connect(Names::resolve(&cli.stack)).await {
        Ok(aws) => verbs::run(&aws, cli.verb).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(done) => {
            // `doctor` answers its findings either way; a failed check is not success.
            let unhealthy = done.json.get("healthy") == Some(&json!(false));
            if as_json {
                let mut doc = done.json;
                if let Some(o) = doc.as_object_mut() {
                    o.insert("ok".into(), json!(!unhealthy));
                }
                println!("{doc}");
            } else {
                for line in done.text {
                    println!("{line}");
                }
            }
            if unhealthy {
                ExitCode::from(6)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(f) => {
            if as_json {
                println!(
                    "{}",
                    json!({"ok": false, "error": {"code": f.code(), "message": f.to_string()}})
                );
            } else {
                eprintln!("tenantctl: {f}");
            }
            ExitCode::from(f.exit_code())
        }
    }
}
