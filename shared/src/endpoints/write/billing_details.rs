//! `update_billing_details` (W): name, email, phone and address, before and after. Never the
//! payment method: that is the Billing Portal's job, where the card never touches us. The
//! policy refuses an email another customer of the tenant has (customers are found by
//! email: taking theirs would lock them out, or take over their account) and more than one
//! email change in 30 days.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::nothing;
use crate::endpoints::read::fetch_customer;
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call};
use crate::pipeline::policy::Act;
use crate::pipeline::two_phase::{Plan, WriteTool};
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::stripe::writes::{AddressUpdate, CustomerUpdate, Setting};

#[derive(Default)]
pub struct UpdateBillingDetails;

#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressArgs {
    /// Street address.
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    /// State, county, province or region.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    /// Two-letter country code (ISO 3166-1 alpha-2), e.g. `US`, `DE`.
    pub country: String,
}

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BillingDetailsArgs {
    /// The name on invoices.
    #[serde(default)]
    pub name: Option<String>,
    /// Where invoices and receipts are emailed.
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// The billing address, replaced as a whole.
    #[serde(default)]
    pub address: Option<AddressArgs>,
}

/// ISO 3166-1 alpha-2, officially assigned codes.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

fn bad(field: &str, what: &str) -> ApiError {
    ApiError::invalid_request(format!("Invalid field `{field}`: {what}."))
        .with_reason("invalid_field")
}

fn text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() || value.chars().count() > max || value.chars().any(char::is_control)
    {
        return Err(bad(
            field,
            &format!("must be 1 to {max} characters of plain text"),
        ));
    }
    Ok(())
}

impl WriteTool for UpdateBillingDetails {
    const NAME: &'static str = "update_billing_details";
    const DESCRIPTION: &'static str = "Changes the visitor's billing name, email, phone or address (never the payment method: use the billing portal for that).";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[Need::Customer, Need::CustomerUpdate];
    type Args = BillingDetailsArgs;
    type Preview = DetailsPreview;

    fn validate(a: &Self::Args) -> Result<(), ApiError> {
        if a.name.is_none() && a.email.is_none() && a.phone.is_none() && a.address.is_none() {
            return Err(ApiError::invalid_request(
                "Give at least one of `name`, `email`, `phone` or `address`.",
            )
            .with_reason("invalid_field"));
        }
        if let Some(n) = &a.name {
            text("name", n, 256)?;
        }
        if let Some(e) = &a.email {
            let ok = e.len() <= 254
                && !e.chars().any(|c| c.is_whitespace() || c.is_control())
                && e.split_once('@')
                    .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'));
            if !ok {
                return Err(bad(
                    "email",
                    "must be an email address such as name@example.com",
                ));
            }
        }
        if let Some(p) = &a.phone {
            let digits = p.chars().filter(char::is_ascii_digit).count();
            let ok = (5..=15).contains(&digits)
                && p.len() <= 25
                && p.chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c));
            if !ok {
                return Err(bad(
                    "phone",
                    "must be a phone number such as +1 555 555 0100",
                ));
            }
        }
        if let Some(addr) = &a.address {
            text("address.line1", &addr.line1, 200)?;
            for (f, v) in [
                ("address.line2", &addr.line2),
                ("address.city", &addr.city),
                ("address.state", &addr.state),
                ("address.postal_code", &addr.postal_code),
            ] {
                if let Some(v) = v {
                    text(f, v, 200)?;
                }
            }
            let c = &addr.country;
            if c.len() != 2 || !COUNTRIES.split(' ').any(|k| k == c) {
                return Err(bad(
                    "address.country",
                    "must be a two-letter ISO 3166-1 country code in capitals, such as US or DE",
                ));
            }
        }
        Ok(())
    }

    async fn plan<'a>(
        &'a self,
        call: &'a Call<'a>,
        a: &'a Self::Args,
        _pins: Option<&'a Value>,
    ) -> Result<Plan<Self::Preview>, ApiError> {
        // Who else has the new email, asked beside the customer (nothing when unchanged).
        let others = async {
            match &a.email {
                Some(e) => crate::pipeline::customer::with_email(call.stripe, call.tenant, e).await,
                None => Ok(Vec::new()),
            }
        };
        let (customer, others) =
            futures::join!(fetch_customer(call.stripe, call.customer_id), others);
        let customer = customer?;
        let others = others?;
        let mut before = serde_json::Map::new();
        let mut after = serde_json::Map::new();
        let mut update = CustomerUpdate::default();
        let mut said = Vec::new();
        let mut field = |name: &str, old: Value, new: Value, words: &str| {
            if old != new {
                said.push(format!(
                    "your {words} from {} to {}",
                    show(&old),
                    show(&new)
                ));
                before.insert(name.into(), old);
                after.insert(name.into(), new);
                true
            } else {
                false
            }
        };
        if let Some(n) = &a.name
            && field("name", json!(customer.name), json!(n), "billing name")
        {
            update.name = Some(n.clone());
        }
        let mut new_email = None;
        if let Some(e) = &a.email
            && field("email", json!(customer.email), json!(e), "billing email")
        {
            update.email = Some(e.clone());
            // A change of case alone is no new address.
            if !customer
                .email
                .as_deref()
                .is_some_and(|old| old.eq_ignore_ascii_case(e))
            {
                new_email = Some(e.to_lowercase());
            }
        }
        if let Some(p) = &a.phone
            && field("phone", json!(customer.phone), json!(p), "phone number")
        {
            update.phone = Some(p.clone());
        }
        if let Some(addr) = &a.address {
            let new = json!({
                "line1": addr.line1, "line2": addr.line2, "city": addr.city,
                "state": addr.state, "postal_code": addr.postal_code, "country": addr.country,
            });
            if field("address", json!(customer.address), new, "address") {
                // A part the new address does not have is cleared.
                let part = |v: Option<&String>| v.cloned().map_or(Setting::Clear, Setting::Set);
                update.address = Some(AddressUpdate {
                    line1: part(Some(&addr.line1)),
                    line2: part(addr.line2.as_ref()),
                    city: part(addr.city.as_ref()),
                    state: part(addr.state.as_ref()),
                    postal_code: part(addr.postal_code.as_ref()),
                    country: part(Some(&addr.country)),
                });
            }
        }
        if said.is_empty() {
            return Ok(Plan::Instead(nothing(
                "Those details are already on file; nothing to change.",
            )));
        }
        let email_taken = new_email.is_some() && others.iter().any(|c| c != call.customer_id);
        let changes = serde_json::to_string(&after).unwrap_or_default();
        Ok(Plan::Change {
            preview: DetailsPreview { before, after },
            summary: format!("This will change {}.", said.join(", and ")),
            change: api::update_customer(call.customer_id, &update).untyped(),
            then: Vec::new(),
            act: Act::Details {
                changes,
                email: new_email,
                email_taken,
            },
            pins: json!({}),
        })
    }

    fn done(&self, _call: &Call<'_>, preview: &DetailsPreview, _sent: &[Value]) -> Answer {
        Answer {
            data: json!({"changed": true, "before": preview.before, "after": preview.after}),
            summary: "Done: your billing details are updated, and new invoices will show them."
                .into(),
        }
    }
}

/// What `update_billing_details` shows before it is confirmed: each field that changes,
/// as it is and as it will be (`name`, `email`, `phone`, `address`).
#[derive(Debug, Serialize, Deserialize)]
pub struct DetailsPreview {
    pub before: serde_json::Map<String, Value>,
    pub after: serde_json::Map<String, Value>,
}

/// A value as a bot says it: quoted text, an address on one line, or "nothing".
fn show(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::String(s) => format!("\"{s}\""),
        Value::Object(o) => {
            let parts: Vec<&str> = ["line1", "line2", "city", "state", "postal_code", "country"]
                .iter()
                .filter_map(|k| o.get(*k).and_then(Value::as_str))
                .filter(|s| !s.is_empty())
                .collect();
            format!("\"{}\"", parts.join(", "))
        }
        other => other.to_string(),
    }
}
