//! Invoice items (`/v1/invoiceitems`): the prorations a subscription change leaves for the
//! next invoice. Read-only here; billing creates them.

use serde_json::Value;

use crate::errors::ApiResult;
use crate::list::{self, PAGING};
use crate::params::Params;
use crate::render::render;
use crate::store::Ctx;

pub fn retrieve(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    ctx.acct
        .fetch("invoiceitem", id, "id")
        .map(|v| render(ctx.acct, &v))
}

pub fn list(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = PAGING.to_vec();
    allowed.extend([
        "customer",
        "invoice",
        "pending",
        "created",
        "customer_account",
    ]);
    p.allow(&allowed)?;
    let customer = list::customer_filter(ctx.acct, p)?;
    let invoice = p.str("invoice")?;
    let pending = p.bool("pending")?;
    let created = list::range_filter(p, "created")?;
    list::page(ctx.acct, "invoiceitem", p, "/v1/invoiceitems", |v| {
        customer.as_deref().is_none_or(|c| v["customer"] == c)
            && invoice.as_deref().is_none_or(|i| v["invoice"] == i)
            && pending.is_none_or(|want| v["invoice"].is_null() == want)
            && created(v["date"].as_i64().unwrap_or(0))
    })
}
