//! Stripe's ids as Stripe makes them: checked when an argument is read, so no other text
//! ever reaches a Stripe URL. An argument typed `SubscriptionId` cannot hold
//! `sub_x/../../v1/balance`; the error names what the field takes.
use std::fmt;
use std::ops::Deref;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

/// Stripe ids are at most 255 characters.
pub const MAX_ID_LEN: usize = 255;

/// Why `value` is not an id starting with `prefix`, in the words an argument error uses
/// after "Invalid field `x`: ".
pub fn problem(value: &str, prefix: &str) -> Option<String> {
    if value.len() > MAX_ID_LEN {
        Some(format!(
            "too long: a Stripe id has at most {MAX_ID_LEN} characters"
        ))
    } else if !value.starts_with(prefix)
        || value.len() == prefix.len()
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        Some(format!(
            "must be a Stripe id starting with `{prefix}` (letters, digits and `_` only)"
        ))
    } else {
        None
    }
}

/// A Stripe customer id as Stripe makes them (`cus_` and letters and digits), safe to put
/// in a URL path: `cus_x/../../v1/balance` is not one.
pub fn valid_customer_id(id: &str) -> bool {
    id.len() <= MAX_ID_LEN
        && id
            .strip_prefix("cus_")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

// Published as a plain string: providers' strict modes take few keywords, and the
// description already says which id goes there.
macro_rules! string_schema {
    ($name:ident) => {
        impl JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                String::schema_name()
            }
            fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
                String::json_schema(g)
            }
            fn inline_schema() -> bool {
                true
            }
        }
    };
}

macro_rules! stripe_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// The id, if `value` is one.
            pub fn parse(value: &str) -> Result<Self, String> {
                match problem(value, $prefix) {
                    None => Ok(Self(value.to_string())),
                    Some(p) => Err(p),
                }
            }

            /// An id Stripe itself returned, so already one of its own.
            pub fn from_stripe(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        string_schema!($name);

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

stripe_id!(
    /// `cus_...`
    CustomerId,
    "cus_"
);
stripe_id!(
    /// `sub_...`
    SubscriptionId,
    "sub_"
);
stripe_id!(
    /// `in_...`
    InvoiceId,
    "in_"
);
stripe_id!(
    /// `price_...`
    PriceId,
    "price_"
);
stripe_id!(
    /// `ch_...`
    ChargeId,
    "ch_"
);
stripe_id!(
    /// `pi_...`
    PaymentIntentId,
    "pi_"
);

/// A payment as `get_payment_history` names it: its charge or its payment intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PaymentId {
    Charge(ChargeId),
    Intent(PaymentIntentId),
}

impl<'de> Deserialize<'de> for PaymentId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.starts_with(PaymentIntentId::PREFIX) {
            PaymentIntentId::parse(&s).map(PaymentId::Intent)
        } else {
            ChargeId::parse(&s).map(PaymentId::Charge)
        }
        .map_err(serde::de::Error::custom)
    }
}

string_schema!(PaymentId);

impl Deref for PaymentId {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            PaymentId::Charge(c) => c,
            PaymentId::Intent(p) => p,
        }
    }
}

impl fmt::Display for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_read_only_as_stripe_makes_them() {
        let ok: SubscriptionId = serde_json::from_str("\"sub_1AbC\"").unwrap();
        assert_eq!(ok.as_str(), "sub_1AbC");
        for bad in [
            "\"sub_\"",
            "\"in_1\"",
            "\"sub_x/../../v1/balance\"",
            "\"sub_a b\"",
        ] {
            let e = serde_json::from_str::<SubscriptionId>(bad).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with("must be a Stripe id starting with `sub_`"),
                "{e}"
            );
        }
        let long = format!("\"sub_{}\"", "a".repeat(300));
        let e = serde_json::from_str::<SubscriptionId>(&long).unwrap_err();
        assert!(e.to_string().starts_with("too long"), "{e}");
    }

    #[test]
    fn a_payment_is_a_charge_or_a_payment_intent() {
        let c: PaymentId = serde_json::from_str("\"ch_1\"").unwrap();
        assert!(matches!(c, PaymentId::Charge(_)));
        let p: PaymentId = serde_json::from_str("\"pi_1\"").unwrap();
        assert!(matches!(p, PaymentId::Intent(_)));
        let e = serde_json::from_str::<PaymentId>("\"py_1\"").unwrap_err();
        assert!(e.to_string().contains("`ch_`"), "{e}");
    }
}
