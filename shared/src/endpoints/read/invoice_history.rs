//! `get_invoice_history`: the visitor's invoices, newest first, with links.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::common::{check_range, missing_customer};
use crate::billing::views::{InvoiceView, invoice};
use crate::billing::{Dates, invoice_name, invoice_phrase, open_phrase, sentence_case, shown};
use crate::error::ApiError;
use crate::pipeline::args::parse_arg;
use crate::pipeline::endpoint::{Answer, Call, Tool};
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::stripe::types::Invoice;
use crate::stripe::types::InvoiceStatus;

#[derive(Default)]
pub struct GetInvoiceHistory;

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceHistoryArgs {
    /// How many invoices, newest first (1 to 24, default 5).
    #[serde(default)]
    #[schemars(range(min = 1, max = 24))]
    pub limit: Option<u32>,
    /// Only invoices created at or after this time (RFC 3339, e.g. `2026-01-01T00:00:00Z`).
    #[serde(default)]
    pub since: Option<String>,
}

/// Drafts are not the customer's business yet; skipping them can take more than one page.
const MAX_PAGES: usize = 3;

impl Tool for GetInvoiceHistory {
    const NAME: &'static str = "get_invoice_history";
    const DESCRIPTION: &'static str = "The visitor's invoices, newest first: number, status, amounts, dates, and links to the hosted invoice and PDF.";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[Need::Customer, Need::Invoices];
    type Args = InvoiceHistoryArgs;

    fn validate(args: &Self::Args) -> Result<(), ApiError> {
        check_listing(args.limit, args.since.as_deref())
    }

    async fn run<'a>(&'a self, call: &'a Call<'a>, args: Self::Args) -> Result<Answer, ApiError> {
        let limit = args.limit.unwrap_or(5) as usize;
        let since = args
            .since
            .as_deref()
            .map(|s| parse_arg("since", s))
            .transpose()?;
        let (shown, has_more) = listed(call, limit, since).await?;
        let views: Vec<InvoiceView> = shown.iter().map(invoice).collect();
        Ok(Answer {
            data: json!({"invoices": views, "has_more": has_more}),
            summary: summarize(&shown, has_more, since, call.dates),
        })
    }
}

/// A listing's `limit` (1 to 24) and `since` (RFC 3339), each refusal naming its field.
pub(crate) fn check_listing(limit: Option<u32>, since: Option<&str>) -> Result<(), ApiError> {
    check_range("limit", limit, 1, 24)?;
    if let Some(s) = since {
        parse_arg("since", s)?;
    }
    Ok(())
}

/// The customer's invoices (drafts left out), newest first, at most `limit`, created at
/// or after `since`; and whether there are more.
pub(crate) async fn listed(
    call: &Call<'_>,
    limit: usize,
    since: Option<i64>,
) -> Result<(Vec<Invoice>, bool), ApiError> {
    let mut base = api::invoices(call.customer_id).limit((limit + 2).min(100));
    if let Some(t) = since {
        base = base.set("created[gte]", t);
    }
    let mut shown: Vec<Invoice> = Vec::new();
    let mut has_more = false;
    let mut cursor: Option<String> = None;
    'pages: for _ in 0..MAX_PAGES {
        let req = match &cursor {
            Some(c) => base.clone().set("starting_after", c),
            None => base.clone(),
        };
        let page = call.stripe.get(&req).await.map_err(missing_customer)?;
        cursor = page.data.last().map(|i| i.id.clone());
        for i in page.data {
            if i.status == Some(InvoiceStatus::Draft) {
                continue;
            }
            if shown.len() == limit {
                has_more = true;
                break 'pages;
            }
            shown.push(i);
        }
        has_more = page.has_more;
        if !page.has_more || shown.len() == limit {
            break;
        }
    }
    Ok((shown, has_more))
}

fn summarize(invoices: &[Invoice], has_more: bool, since: Option<i64>, dates: &Dates) -> String {
    let since_phrase = since
        .map(|t| format!(" since {}", dates.date(t)))
        .unwrap_or_default();
    let Some(latest) = invoices.first() else {
        return match since {
            Some(_) => format!("You don't have any invoices{since_phrase}."),
            None => "You don't have any invoices yet.".into(),
        };
    };
    let which = shown(invoices.len(), has_more, "invoice");
    let lead = if invoices.len() == 1 {
        format!(
            "{}{since_phrase} is {}.",
            sentence_case(&which),
            invoice_phrase(latest, dates)
        )
    } else {
        format!(
            "Here are {which}{since_phrase}; the most recent is {}.",
            invoice_phrase(latest, dates)
        )
    };
    // The latest one already said whether it is open; name the other open ones.
    let open: Vec<&Invoice> = invoices[1..]
        .iter()
        .filter(|i| i.status == Some(InvoiceStatus::Open))
        .collect();
    match open.as_slice() {
        [] => lead,
        [one] => format!(
            "{lead} {} is also {}.",
            invoice_name(one),
            open_phrase(one, dates)
        ),
        many => format!("{lead} {} older invoices are also still open.", many.len()),
    }
}
