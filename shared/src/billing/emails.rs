//! The emails customers get, in plain words: a text part and the same words as simple,
//! accessible HTML (a language, a heading, real links with their purpose in their text, no
//! images, no tracking). They carry the merchant's name and never card data beyond brand
//! and last 4.
use crate::ports::notices::Email;

/// Who sends: the verified address and the merchant's name.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    pub from: &'a str,
    pub merchant: &'a str,
}

/// HTML-escapes text put into HTML (the emails' HTML part, the pay-now page).
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// One paragraph or a link, in both parts.
enum Part<'a> {
    Para(String),
    Link { text: &'a str, url: &'a str },
    List(Vec<String>),
}

fn compose(s: Sender<'_>, to: &str, subject: String, parts: &[Part<'_>]) -> Email {
    let mut text = String::new();
    let mut html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head><body><h1>{}</h1>",
        esc(&subject),
        esc(&subject)
    );
    for p in parts {
        match p {
            Part::Para(t) => {
                text.push_str(t);
                text.push_str("\n\n");
                html.push_str(&format!("<p>{}</p>", esc(t)));
            }
            Part::Link { text: t, url } => {
                text.push_str(&format!("{t}: {url}\n\n"));
                html.push_str(&format!("<p><a href=\"{}\">{}</a></p>", esc(url), esc(t)));
            }
            Part::List(items) => {
                html.push_str("<ul>");
                for i in items {
                    text.push_str(&format!("- {i}\n"));
                    html.push_str(&format!("<li>{}</li>", esc(i)));
                }
                text.push('\n');
                html.push_str("</ul>");
            }
        }
    }
    let sign = format!("{} billing", s.merchant);
    text.push_str(&format!("-- \n{sign}\n"));
    html.push_str(&format!("<p>{}</p></body></html>", esc(&sign)));
    Email {
        // The name quoted (RFC 5322), so any character in it stays part of the name.
        from: format!(
            "\"{}\" <{}>",
            s.merchant.replace(['<', '>', '"', '\\'], ""),
            s.from
        ),
        to: to.to_string(),
        subject,
        text,
        html,
    }
}

/// A renewal's payment failed: pay now (one tap), or update the card.
pub fn payment_failed(
    s: Sender<'_>,
    to: &str,
    amount: &str,
    decline: Option<&str>,
    pay_url: &str,
    card_url: &str,
) -> Email {
    let why = decline
        .map(|d| format!(" The bank said: {d}."))
        .unwrap_or_default();
    compose(
        s,
        to,
        format!("Your {} payment of {amount} did not go through", s.merchant),
        &[
            Part::Para(format!(
                "We tried to take {amount} for your {} subscription and the payment failed.{why}",
                s.merchant
            )),
            Part::Link {
                text: &format!("Pay {amount} now with your saved card"),
                url: pay_url,
            },
            Part::Link {
                text: "Update your card",
                url: card_url,
            },
            Part::Para(
                "The pay-now link works once and for 72 hours. If you need help, reply to our support chat."
                    .into(),
            ),
        ],
    )
}

/// The saved card expires before the next renewal.
pub fn card_expiring(s: Sender<'_>, to: &str, card: &str, renewal: &str, card_url: &str) -> Email {
    compose(
        s,
        to,
        format!(
            "Your card for {} expires before your next payment",
            s.merchant
        ),
        &[
            Part::Para(format!(
                "Your {card} expires before your subscription renews on {renewal}. Update it so your service continues without a failed payment."
            )),
            Part::Link {
                text: "Update your card",
                url: card_url,
            },
        ],
    )
}

/// One invoice of a bundle, as its line says it.
pub struct InvoiceLine {
    pub number: String,
    pub date: String,
    pub amount: String,
    pub status: String,
    pub pdf: Option<String>,
    pub hosted: Option<String>,
}

/// The invoices of a range in one email (for a finance team).
pub fn invoices(s: Sender<'_>, to: &str, range: &str, lines: &[InvoiceLine]) -> Email {
    let mut parts = vec![Part::Para(format!(
        "Here are your {} invoices {range}: {}.",
        s.merchant,
        lines.len()
    ))];
    let items = lines
        .iter()
        .map(|l| {
            let mut item = format!("{} ({}): {}, {}", l.number, l.date, l.amount, l.status);
            if let Some(pdf) = &l.pdf {
                item.push_str(&format!(". PDF: {pdf}"));
            }
            if let Some(h) = &l.hosted {
                item.push_str(&format!(". Online: {h}"));
            }
            item
        })
        .collect();
    parts.push(Part::List(items));
    compose(s, to, format!("Your {} invoices", s.merchant), &parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_and_both_parts_say_the_same() {
        let s = Sender {
            from: "billing@shop.example.com",
            merchant: "Tom & <Jerry>",
        };
        let e = payment_failed(
            s,
            "a@example.com",
            "$49.00",
            Some("insufficient funds"),
            "https://x/pay",
            "https://x/card",
        );
        assert!(e.html.contains("Tom &amp; &lt;Jerry&gt;"));
        assert!(!e.html.contains("<Jerry>"));
        assert!(
            e.text
                .contains("Pay $49.00 now with your saved card: https://x/pay")
        );
        assert!(e.html.contains("<a href=\"https://x/pay\">Pay $49.00 now"));
        assert!(e.html.starts_with("<!doctype html><html lang=\"en\">"));
        assert_eq!(e.from, "\"Tom & Jerry\" <billing@shop.example.com>");
    }
}
