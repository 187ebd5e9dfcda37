//! Why a card payment failed, in words a customer understands. Fraud-related reasons are
//! said as a plain decline: Stripe advises not to tell a possible fraudster which check
//! caught them (docs.stripe.com/declines/codes).

/// `code` is the charge's `failure_code` (or an error's `code`), `decline` its
/// `decline_code` / `outcome.reason` when known.
pub fn decline_phrase(code: Option<&str>, decline: Option<&str>) -> &'static str {
    let reason = decline.filter(|d| *d != "generic_decline").or(code);
    match reason {
        Some("insufficient_funds") => "the card was declined for insufficient funds",
        Some("expired_card") => "the card has expired",
        Some("incorrect_cvc" | "invalid_cvc") => "the card's security code was incorrect",
        Some("incorrect_number" | "invalid_number") => "the card number was incorrect",
        Some("card_velocity_exceeded" | "withdrawal_count_limit_exceeded") => {
            "the card was declined because it is over its limit"
        }
        Some("processing_error") => "the card issuer had a processing error",
        Some("authentication_required") => "the bank asked for the payment to be authenticated",
        Some("card_not_supported" | "currency_not_supported") => {
            "the card does not support this kind of payment"
        }
        _ => "the card was declined",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declines_are_plain_and_never_reveal_fraud_checks() {
        assert_eq!(
            decline_phrase(Some("card_declined"), Some("generic_decline")),
            "the card was declined"
        );
        assert_eq!(
            decline_phrase(Some("card_declined"), Some("insufficient_funds")),
            "the card was declined for insufficient funds"
        );
        assert_eq!(
            decline_phrase(Some("card_declined"), Some("stolen_card")),
            "the card was declined"
        );
        assert_eq!(
            decline_phrase(Some("expired_card"), None),
            "the card has expired"
        );
    }
}
