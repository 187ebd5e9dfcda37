//! What the store keeps for the events it will send: which objects make events, the
//! deliveries waiting, and the test controls over them (`events.rs` does the sending).

/// Object kinds whose changes make events.
pub fn watched(kind: &str) -> bool {
    matches!(
        kind,
        "customer"
            | "subscription"
            | "invoice"
            | "charge"
            | "dispute"
            | "payment_intent"
            | "refund"
            | "checkout.session"
    )
}

/// One signed POST waiting to be sent.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub url: String,
    pub secret: String,
    pub body: String,
}

/// How deliveries misbehave, for tests (`POST /_emulator/webhooks`).
#[derive(Debug, Clone, Default)]
pub struct Controls {
    /// Every delivery sent twice.
    pub duplicate: bool,
    /// A batch's deliveries in random order.
    pub shuffle: bool,
    /// Wait this long before sending.
    pub delay_ms: u64,
    /// The next this-many deliveries are dropped (never sent, never retried).
    pub drop: u64,
}
