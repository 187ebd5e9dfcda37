//! The pay-now page, drawn for a person in a browser (the failed payment's email links
//! here): plain HTML, no script, one form whose button pays. Every answer runs the
//! pipeline as the endpoints in `crate::endpoints::pay_link` (tenant, caller, audit), then
//! is drawn here instead of the JSON envelope. The page sends no referrer (its URL holds
//! the token) and is never cached.
use std::time::Instant;

use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::billing::emails::esc;
use crate::edge::{incoming, query_of, request_id, routes};
use crate::endpoints::pay_link::{PayCard, PayNow, PayPage};
use crate::error::ApiError;
use crate::pipeline::app::App;
use crate::pipeline::endpoint::{Endpoint, Reply};
use crate::pipeline::{Trail, record, run};
use crate::ports::audit;

/// `GET /v1/{tenant}/pay/{token}`.
pub async fn page(app: &App, req: Request) -> Response<Body> {
    let path = req.uri().path().to_string();
    html_call(app, &PayPage, req, |reply| match reply {
        Ok(r) if r.answer.data["state"] == "payable" => payable(&r.answer.data, &path),
        Ok(r) => said(&r.answer.data, &r.answer.summary, &path),
        Err(e) => failed(&e),
    })
    .await
}

/// `POST /v1/{tenant}/pay/{token}/confirm`.
pub async fn pay(app: &App, req: Request) -> Response<Body> {
    let path = req.uri().path().trim_end_matches("/confirm").to_string();
    html_call(app, &PayNow, req, |reply| match reply {
        Ok(r) => said(&r.answer.data, &r.answer.summary, &path),
        Err(e) => failed(&e),
    })
    .await
}

/// `GET /v1/{tenant}/pay/{token}/card`: on to the Billing Portal.
pub async fn card(app: &App, req: Request) -> Response<Body> {
    let path = req.uri().path().trim_end_matches("/card").to_string();
    html_call(app, &PayCard, req, |reply| match reply {
        Ok(r) => match r.answer.data["url"].as_str() {
            Some(url) => Response::builder()
                .status(303)
                .header("location", url)
                .header("cache-control", "no-store")
                .header("referrer-policy", "no-referrer")
                .body(Body::Empty)
                .unwrap_or_else(|_| Response::new(Body::Empty)),
            None => said(&r.answer.data, &r.answer.summary, &path),
        },
        Err(e) => failed(&e),
    })
    .await
}

async fn html_call<T: Endpoint>(
    app: &App,
    endpoint: &T,
    req: Request,
    draw: impl FnOnce(Result<Reply, ApiError>) -> Response<Body>,
) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(&req);
    if let Err(e) = routes::check(req.method().as_str(), req.uri().path()) {
        return failed(&e);
    }
    let query = query_of(&req);
    let incoming = incoming(&req, &query);
    let mut trail = Trail::new(audit::REST);
    let result = run(app, endpoint, &incoming, &request_id, &mut trail).await;
    record(app, T::NAME, trail, &result, &request_id, started).await;
    draw(result)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#111}button,a.button{font-size:1.1rem;padding:.6rem 1.2rem;border-radius:.4rem;border:0;background:#1a56db;color:#fff;text-decoration:none;display:inline-block}dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}dt{font-weight:600}";

fn document(status: u16, title: &str, body: &str) -> Response<Body> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{t}</title><style>{STYLE}</style></head><body><main><h1>{t}</h1>{body}</main></body></html>",
        t = esc(title)
    );
    Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        // No script at all; the one form posts back to this page's own route.
        .header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        )
        .header("referrer-policy", "no-referrer")
        .header("x-content-type-options", "nosniff")
        .header("cache-control", "no-store")
        .body(Body::Text(html))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

/// The invoice, the card, and the one button that pays.
fn payable(data: &Value, path: &str) -> Response<Body> {
    let merchant = data["merchant"].as_str().unwrap_or_default();
    let amount = data["amount"]["formatted"].as_str().unwrap_or_default();
    let inv = &data["invoice"];
    let number = inv["number"].as_str().unwrap_or("Your invoice");
    let card = &data["card"];
    let card_line = format!(
        "{} (expires {:02}/{})",
        crate::billing::card_phrase(
            card["brand"].as_str().unwrap_or("card"),
            card["last4"].as_str().unwrap_or("????")
        ),
        card["exp_month"].as_u64().unwrap_or(0),
        card["exp_year"].as_u64().unwrap_or(0)
    );
    let body = format!(
        "<p>{merchant}: this invoice is unpaid.</p><dl><dt>Invoice</dt><dd>{number}</dd><dt>Amount due</dt><dd>{amount}</dd><dt>Card</dt><dd>{card}</dd></dl>\
         <form method=\"post\" action=\"{path}/confirm\"><button type=\"submit\">Pay {amount} now</button></form>\
         <p><a href=\"{path}/card\">Use a different card</a></p>",
        merchant = esc(merchant),
        number = esc(number),
        amount = esc(amount),
        card = esc(&card_line),
        path = esc(path),
    );
    document(200, &format!("Pay {amount}"), &body)
}

/// What happened, in the endpoint's words, with the update-card link where it helps.
fn said(data: &Value, summary: &str, path: &str) -> Response<Body> {
    let state = data["state"].as_str().unwrap_or_default();
    let title = match state {
        "paid" => "Paid, thank you",
        "declined" => "The payment did not go through",
        "used" => "This link was used",
        "expired" => "This link has expired",
        "pending_approval" => "A person from our team will look at this",
        _ => "Nothing to pay",
    };
    let mut body = format!("<p role=\"status\">{}</p>", esc(summary));
    if state == "declined" || state == "card_only" {
        body.push_str(&format!(
            "<p><a class=\"button\" href=\"{}/card\">Update your card</a></p>",
            esc(path)
        ));
    }
    document(200, title, &body)
}

fn failed(e: &ApiError) -> Response<Body> {
    let body = format!("<p role=\"alert\">{}</p>", esc(&e.message));
    // A failure on our side or Stripe's leaves the link usable (the endpoint gives it back).
    let title = if e.status >= 500 {
        "Please try again in a moment"
    } else {
        "This payment link cannot be used"
    };
    document(e.status, title, &body)
}
