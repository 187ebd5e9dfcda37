//! The one way anything changes in Stripe. A write tool declares its arguments, a `plan`
//! (ownership checked, the preview, the exact Stripe change and what it does to the
//! customer's money or service) and its tenant-wide bounds; this module owns the rest:
//! propose (the policy asked) → confirm once → claim (the policy asked again on the
//! customer's history, the bounds counted and the write added to the history, in one
//! conditional step) → write-ahead audit → commit under an idempotency key derived from the
//! confirmation, tagged with the confirmation id in Stripe's `metadata` → the stored
//! outcome every replay gets. A claim whose outcome is unknown is finished by looking in
//! Stripe for its effect first, so "once" holds past Stripe's 24 h idempotency window.
use std::future::Future;
use std::time::Duration;

use base64::Engine;
use rand::{Rng, RngCore};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::billing::money;
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Endpoint, Incoming, Reply, parse_checked};
use crate::pipeline::policy::{self, Act, Entry, History, Verdict};
use crate::ports::audit;
use crate::ports::error::StoreError;
use crate::ports::ledger::{Bound, Claim, Confirmation, State};
use crate::ports::notices::NoticeKind;
use crate::ports::state::{Approval, ApprovalStatus, PassedBound};
use crate::stripe::StripeError;
use crate::stripe::api::{self, Change, Need, Trace};
use crate::timefmt::{now_unix, rfc3339, rfc3339_now};

/// How long a claimer may take before a retry may take its claim over (it crashed).
const CLAIM_LEASE_SECS: i64 = 30;
/// How often a confirmation tries its claim while racing others for the same counters.
const CLAIM_ATTEMPTS: u64 = 12;
/// How long a racing confirmation waits for the winner's outcome.
const WAIT_FOR_OUTCOME: Duration = Duration::from_secs(8);

/// How every write tool is called, added to its description in the tool list.
pub const TWO_PHASE: &str = "First call returns a preview and a confirmation token; call again with {\"confirm\": token} once the visitor agrees.";

pub trait WriteTool: Send + Sync + 'static {
    const NAME: &'static str;
    /// What it does; the tool list adds [`TWO_PHASE`].
    const DESCRIPTION: &'static str;
    /// See [`crate::pipeline::endpoint::Tool::BEFORE_ENABLED_TOOLS`].
    const BEFORE_ENABLED_TOOLS: bool = false;
    /// What it asks Stripe with the tenant's key.
    const NEEDS: &'static [Need];
    type Args: DeserializeOwned + Serialize + JsonSchema + Send + Sync;
    /// What the visitor is shown before confirming; stored with the confirmation, compared
    /// when confirmed, and read back for the answer once done. Its JSON is the contract's
    /// `preview`.
    type Preview: DeserializeOwned + Serialize + Send + Sync;

    fn validate(_args: &Self::Args) -> Result<(), ApiError> {
        Ok(())
    }

    /// Reads Stripe, checks that the object is the visitor's and what state it is in, and
    /// says what would change. `pins` are the inputs a confirmed call must reuse (as the
    /// proposal stored them); `None` when proposing.
    fn plan<'a>(
        &'a self,
        call: &'a Call<'a>,
        args: &'a Self::Args,
        pins: Option<&'a Value>,
    ) -> impl Future<Output = Result<Plan<Self::Preview>, ApiError>> + Send + 'a;

    /// The tenant-wide counters this write may not push past their caps (`preview` is what
    /// `plan` found). What counts the customer is the policy's, on the customer's history.
    fn bounds(&self, _call: &Call<'_>, _args: &Self::Args, _preview: &Self::Preview) -> Vec<Bound> {
        Vec::new()
    }

    /// The answer once Stripe made the change: `sent` holds Stripe's answer to `change`,
    /// then to each of `then`.
    fn done(&self, call: &Call<'_>, preview: &Self::Preview, sent: &[Value]) -> Answer;

    /// Stripe refused the change: an answer to give instead of the error, when the refusal
    /// is an outcome the visitor should hear about (a declined card). The attempt still
    /// counts against the bounds, and replays get this answer.
    fn refused<'a>(
        &'a self,
        _call: &'a Call<'a>,
        _preview: &'a Self::Preview,
        _e: &'a StripeError,
    ) -> impl Future<Output = Option<Answer>> + Send + 'a {
        async { None }
    }
}

// One plan per call, moved once: its size costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub enum Plan<P> {
    /// Nothing to confirm: say this instead (already done, a portal link, ...).
    Instead(Answer),
    Change {
        /// What the visitor is shown, and what the confirmed call must still see.
        preview: P,
        /// Says exactly what will happen (amounts, dates); the question is added here.
        summary: String,
        change: Change,
        /// Sent after `change` succeeded, in order (a refund that ends the service too).
        then: Vec<Change>,
        /// What it does to the customer's money or service: what the policy judges.
        act: Act,
        pins: Value,
    },
}

/// A write tool as the pipeline runs it.
#[derive(Default)]
pub struct Write<W>(pub W);

pub struct WriteInput<A> {
    /// `None` when the body is `{"confirm": token}` alone.
    args: Option<A>,
    confirm: Option<String>,
}

impl<W: WriteTool> Endpoint for Write<W> {
    const NAME: &'static str = W::NAME;
    const BEFORE_ENABLED_TOOLS: bool = W::BEFORE_ENABLED_TOOLS;
    const NEEDS: &'static [Need] = W::NEEDS;
    type Input = WriteInput<W::Args>;

    fn input(req: &Incoming<'_>, audited: &mut Value) -> Result<Self::Input, ApiError> {
        let bytes = req.body;
        let mut value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(bytes).map_err(|_| {
                ApiError::invalid_request("The body is not valid JSON.").with_reason("bad_json")
            })?
        };
        let confirm = match value.as_object_mut().and_then(|o| o.remove("confirm")) {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if !t.is_empty() && t.len() <= 200 => Some(t),
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "Invalid field `confirm`: must be the token from the preview.",
                )
                .with_reason("invalid_field"));
            }
        };
        if confirm.is_some() && value.as_object().is_some_and(|o| o.is_empty()) {
            *audited = json!({"confirm": "[redacted]"});
            return Ok(WriteInput {
                args: None,
                confirm,
            });
        }
        let rest = serde_json::to_vec(&value).unwrap_or_default();
        let args = parse_checked::<W::Args>(W::NAME, &rest, W::validate, audited)?;
        if confirm.is_some()
            && let Some(obj) = audited.as_object_mut()
        {
            obj.insert("confirm".into(), json!("[redacted]"));
        }
        Ok(WriteInput {
            args: Some(args),
            confirm,
        })
    }

    async fn serve<'a>(
        &'a self,
        call: &'a Call<'a>,
        input: Self::Input,
    ) -> Result<Reply, ApiError> {
        match (input.confirm, input.args) {
            (Some(token), args) => confirm(&self.0, call, &token, args).await,
            (None, Some(args)) => propose(&self.0, call, args, "", false).await,
            (None, None) => Err(ApiError::invalid_request("Send the tool's arguments.")),
        }
    }
}

fn token_id(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "cf_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The Stripe requests of a confirmation, each tagged with its id where Stripe keeps
/// metadata, so its effect can be found later.
fn steps(c: &Confirmation) -> Vec<Change> {
    std::iter::once(&c.change).chain(&c.then).cloned().collect()
}

/// The idempotency key of a confirmation's `n`th request: derived from the confirmation,
/// never the request, so every retry of it, in any process, is the same Stripe request.
fn idempotency_key(c: &Confirmation, n: usize) -> String {
    match n {
        0 => format!("confirm-{}", &c.id[..40]),
        n => format!("confirm-{}-{n}", &c.id[..40]),
    }
}

/// Carries a write out at once, without a preview to confirm: for a caller whose one click
/// was the confirmation (the pay-now page, after its single-use link was spent). Every
/// other step is the write's: ownership, the policy on the customer's history, the bounds,
/// the idempotency key, the write-ahead audit.
pub async fn at_once<W: WriteTool>(
    w: &W,
    call: &Call<'_>,
    args: W::Args,
) -> Result<Reply, ApiError> {
    propose(w, call, args, "", true).await
}

async fn propose<W: WriteTool>(
    w: &W,
    call: &Call<'_>,
    args: W::Args,
    lead: &str,
    at_once: bool,
) -> Result<Reply, ApiError> {
    let ledger = call.app.ledger.as_ref();
    let tenant = &call.tenant.tenant;
    // The customer's history is read beside Stripe's: no time added to the proposal.
    let (plan, history) = futures::join!(
        w.plan(call, &args, None),
        ledger.history(tenant, call.customer_id)
    );
    let (preview, summary, change, then, act, pins) = match plan? {
        Plan::Instead(answer) => return Ok(Reply::done(answer)),
        Plan::Change {
            preview,
            summary,
            change,
            then,
            act,
            pins,
        } => (preview, summary, change, then, act, pins),
    };
    let history = history?;
    let token = new_token();
    let id = token_id(&token);
    // Said now rather than after the visitor confirmed; the claim asks again, atomically.
    // A bound a person may lift does not stop the proposal: confirmed, it waits for one.
    let mut held = None;
    match policy::judge(
        &call.tenant.policy,
        &history,
        &act,
        &id,
        now_unix(),
        call.dates,
    ) {
        Verdict::Allow => {}
        Verdict::Deny(e) if policy::liftable(&call.tenant.policy, &e) => held = Some(e),
        Verdict::Deny(e) => return Err(e),
        Verdict::Duplicate(earlier) => return duplicate(w, call, &earlier).await,
    }
    let bounds = w.bounds(call, &args, &preview);
    let preview = serde_json::to_value(&preview).unwrap_or(Value::Null);
    let used =
        futures::future::try_join_all(bounds.iter().map(|b| ledger.used(tenant, b, now_unix())))
            .await?;
    if let Some(b) = bounds
        .iter()
        .zip(used)
        .find(|(b, n)| !b.fits(*n))
        .map(|(b, _)| b)
    {
        return Err(ApiError::policy_denied(&b.reason, b.message.clone()));
    }
    let c = Confirmation {
        change: change.tagged(&id),
        then: then.into_iter().map(|t| t.tagged(&id)).collect(),
        act: Some(act),
        id,
        tenant: tenant.clone(),
        tool: W::NAME.to_string(),
        user_id: call.visitor.user_id.clone(),
        customer: call.customer_id.to_string(),
        args: serde_json::to_value(&args).unwrap_or(Value::Null),
        pins,
        preview: preview.clone(),
        summary: summary.clone(),
        bounds,
        expires_at: now_unix() + call.tenant.policy.confirmation_ttl_secs,
        state: State::Pending,
        claimed_at: None,
        outcome: None,
        audit_sk: None,
    };
    ledger.put(&c).await?;
    if at_once
        || call
            .tenant
            .policy
            .confirmation_off
            .iter()
            .any(|t| t == W::NAME)
    {
        return commit(w, call, c, Some(history), false).await;
    }
    let (ask, mut confirmation) = match &held {
        None => (
            "Shall I go ahead?",
            json!({"token": token, "expires_at": rfc3339(c.expires_at), "preview": preview}),
        ),
        Some(_) => (
            "That is more than I can do on my own: if you confirm, I'll ask a person from our team to approve it.",
            json!({"token": token, "expires_at": rfc3339(c.expires_at), "preview": preview,
                   "needs_approval": true}),
        ),
    };
    if let (Some(e), Some(obj)) = (&held, confirmation.as_object_mut()) {
        obj.insert("bound".into(), json!(e.reason));
    }
    Ok(Reply {
        status: "confirmation_required",
        answer: Answer {
            data: preview.clone(),
            summary: format!("{lead}{summary} {ask}"),
        },
        confirmation: Some(confirmation),
        approval: None,
    })
}

async fn confirm<W: WriteTool>(
    w: &W,
    call: &Call<'_>,
    token: &str,
    given: Option<W::Args>,
) -> Result<Reply, ApiError> {
    let ledger = call.app.ledger.as_ref();
    let c = ledger
        .get(&call.tenant.tenant, &token_id(token))
        .await?
        .ok_or_else(|| ApiError::confirmation_invalid("unknown_token"))?;
    // Bound to its tenant (the key), visitor, customer, tool and arguments.
    let bound_to = [
        (c.tool == W::NAME, "other_tool"),
        (c.user_id == call.visitor.user_id, "other_visitor"),
        (c.customer == call.customer_id, "other_customer"),
        (
            given
                .as_ref()
                .is_none_or(|a| serde_json::to_value(a).ok().as_ref() == Some(&c.args)),
            "other_arguments",
        ),
    ];
    if let Some((_, reason)) = bound_to.iter().find(|(ok, _)| !ok) {
        return Err(ApiError::confirmation_invalid(reason));
    }
    match c.state {
        State::Done => return replay(&c),
        State::Claimed => return wait_for_outcome(w, call, c).await,
        State::Pending if c.expires_at <= now_unix() => {
            return Err(ApiError::confirmation_expired());
        }
        State::Pending => {}
    }
    // Does Stripe still look as it did in the preview? If not, show what it would do now.
    let (args, plan, history) = replan(w, call, &c).await?;
    let same = match plan? {
        Plan::Change {
            preview,
            change,
            then,
            ..
        } => as_shown(&c, &preview, change, then),
        Plan::Instead(_) => false,
    };
    if !same {
        let latest = ledger.get(&c.tenant, &c.id).await?;
        if let Some(latest) = latest.filter(|l| l.state != State::Pending) {
            // It moved because a racing confirmation of this very token committed it.
            return wait_for_outcome(w, call, latest).await;
        }
        let lead = "Something changed since that preview, so nothing was done yet. ";
        return propose(w, call, args, lead, false).await;
    }
    commit(w, call, c, Some(history?), false).await
}

/// Confirmation `c`'s write planned again now, with the inputs it pinned, beside the
/// customer's history (read at once: no time added).
async fn replan<W: WriteTool>(
    w: &W,
    call: &Call<'_>,
    c: &Confirmation,
) -> Result<
    (
        W::Args,
        Result<Plan<W::Preview>, ApiError>,
        Result<History, StoreError>,
    ),
    ApiError,
> {
    let args: W::Args = serde_json::from_value(c.args.clone())
        .map_err(|_| ApiError::confirmation_invalid("unknown_token"))?;
    let (plan, history) = futures::join!(
        w.plan(call, &args, Some(&c.pins)),
        call.app.ledger.history(&c.tenant, &c.customer)
    );
    Ok((args, plan, history))
}

/// Whether a plan made now is what confirmation `c` showed and stored: the same preview
/// and the same Stripe requests.
fn as_shown<P: Serialize>(
    c: &Confirmation,
    preview: &P,
    change: Change,
    then: Vec<Change>,
) -> bool {
    serde_json::to_value(preview).ok().as_ref() == Some(&c.preview)
        && change.tagged(&c.id) == c.change
        && then
            .into_iter()
            .map(|t| t.tagged(&c.id))
            .eq(c.then.iter().cloned())
}

/// A write tool's [`approve`], as a plain function a table can hold.
pub type ApproveFn =
    for<'a> fn(
        &'a Call<'a>,
        Confirmation,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Reply, ApiError>> + Send + 'a>>;

/// Runs a held write an agent approved: planned again as it was shown (ownership, and the
/// object unchanged, or it answers what changed), judged with the bounds a person may lift
/// lifted, counted against the approver's own refund cap, and claimed once like any
/// confirmation, so an approval decided twice or raced acts once.
pub async fn approve<W: WriteTool>(
    w: &W,
    call: &Call<'_>,
    c: Confirmation,
) -> Result<Reply, ApiError> {
    match c.state {
        State::Done => return replay(&c),
        State::Claimed => return wait_for_outcome(w, call, c).await,
        State::Pending => {}
    }
    let (_, plan, history) = replan(w, call, &c).await?;
    // A plan that fails says what changed (the payment refunded meanwhile, say).
    let now_would = match plan? {
        Plan::Change {
            preview,
            change,
            then,
            summary,
            ..
        } => (!as_shown(&c, &preview, change, then)).then_some(summary),
        Plan::Instead(answer) => Some(answer.summary),
    };
    if let Some(now) = now_would {
        return Err(ApiError::approval_closed(
            "object_changed",
            format!(
                "It changed since the visitor asked, so nothing was done. As it stands now: {now}"
            ),
        ));
    }
    let mut c = c;
    // Counted with the claim, so racing approvals by one agent cannot pass it together.
    c.bounds.extend(approver_bound(call, &c));
    commit(w, call, c, Some(history?), true).await
}

/// The approver's own cap on what their approvals refund (`None` for a write that refunds
/// nothing): one rolling counter per agent and currency.
pub fn approver_bound(call: &Call<'_>, c: &Confirmation) -> Option<Bound> {
    let Some(Act::Refund {
        amount, currency, ..
    }) = &c.act
    else {
        return None;
    };
    let cap = call.tenant.policy.agent_refund_max_per_30_days;
    Some(Bound::rolling(
        format!("agent_refund#{}#{currency}", call.caller.actor()),
        cap,
        *amount,
        30 * 86_400,
        "agent_refund_cap_exceeded",
        format!(
            "Your approvals can refund at most {} in any 30 days; an administrator can raise policy.agent_refund_max_per_30_days, or another agent can approve it.",
            money(cap as i64, currency)
        ),
    ))
}

/// Whether the approver's cap has room for `c`, asked before an approval is decided so a
/// refusal leaves it pending for another agent (the claim counts it atomically after).
pub async fn approver_has_room(call: &Call<'_>, c: &Confirmation) -> Result<(), ApiError> {
    let Some(b) = approver_bound(call, c) else {
        return Ok(());
    };
    let used = call
        .app
        .ledger
        .used(&call.tenant.tenant, &b, now_unix())
        .await?;
    if b.fits(used) {
        Ok(())
    } else {
        Err(ApiError::policy_denied(&b.reason, b.message))
    }
}

/// A confirmed write a bound held that a person may lift: kept pending for the tenant's
/// agents (the confirmation lives as long as its approval), and the visitor told so. The
/// approval's id follows from the confirmation's, so racing confirmations ask once.
async fn ask_approval<W: WriteTool>(
    w: &W,
    call: &Call<'_>,
    mut c: Confirmation,
    err: ApiError,
    history: &History,
) -> Result<Reply, ApiError> {
    let now = now_unix();
    let id = format!("apr_{}.{}", c.customer, &c.id[..24]);
    let reason = err.reason.clone().unwrap_or_default();
    let over = c
        .act
        .as_ref()
        .and_then(|act| policy::over(&call.tenant.policy, history, act, &c.id, now, &reason));
    let asked = Approval {
        id: id.clone(),
        customer: c.customer.clone(),
        user_id: c.user_id.clone(),
        tool: c.tool.clone(),
        confirmation: c.id.clone(),
        preview: c.preview.clone(),
        summary: c.summary.clone(),
        bound: PassedBound {
            reason: reason.clone(),
            message: err.message.clone(),
            over,
        },
        asked_at: now,
        expires_at: now + call.tenant.policy.approval_ttl_hours * 3_600,
        status: ApprovalStatus::Pending,
        decided_by: None,
        decided_at: None,
        note: None,
        outcome: None,
        told: false,
    };
    let (stored, asked_now) = call
        .app
        .state
        .change_approval(&c.tenant, &id, &|s| s.is_none().then(|| asked.clone()))
        .await?;
    let stored =
        stored.ok_or_else(|| ApiError::billing_unavailable(503, "approval_unavailable"))?;
    if asked_now {
        c.expires_at = stored.expires_at;
        call.app.ledger.put(&c).await?;
        crate::pipeline::notify::approval(
            call.app,
            &c.tenant,
            &stored,
            NoticeKind::ApprovalRequested,
        )
        .await;
    }
    match stored.status_at(now) {
        ApprovalStatus::Pending => Ok(Reply {
            status: "pending_approval",
            answer: Answer {
                data: stored.preview.clone(),
                summary: format!(
                    "That is more than I can do on my own, so I've asked a person from our team to approve it; nothing has changed yet. You'll hear back by {}.",
                    call.dates.date(stored.expires_at)
                ),
            },
            confirmation: None,
            approval: Some(json!({"id": stored.id, "expires_at": rfc3339(stored.expires_at)})),
        }),
        ApprovalStatus::Approved => {
            let latest = call
                .app
                .ledger
                .get(&c.tenant, &c.id)
                .await?
                .ok_or_else(|| ApiError::confirmation_invalid("unknown_token"))?;
            // Approved, but it could not be done as asked (the object changed): that answer,
            // not a wait for a write that will never run.
            match stored.outcome.as_ref().and_then(|o| o.get("error")) {
                Some(e) if latest.state == State::Pending => Err(ApiError::restored(e)),
                _ => Box::pin(wait_for_outcome(w, call, latest)).await,
            }
        }
        // The agent's note is the merchant's, not the visitor's.
        ApprovalStatus::Denied => Err(ApiError::policy_denied(
            &reason,
            "A person from our team looked at this and declined it, so nothing was changed.",
        )),
        ApprovalStatus::Expired => Err(err),
    }
}

/// Claims a pending confirmation (the policy asked on the customer's history first) and
/// carries it out.
async fn commit<W: WriteTool>(
    w: &W,
    call: &Call<'_>,
    mut c: Confirmation,
    mut history: Option<History>,
    approving: bool,
) -> Result<Reply, ApiError> {
    let ledger = call.app.ledger.as_ref();
    let lifted;
    let rules = if approving {
        lifted = policy::lifted(&call.tenant.policy);
        &lifted
    } else {
        &call.tenant.policy
    };
    let now = now_unix();
    let sk = format!("{}#{}", rfc3339_now(), call.request_id);
    c.audit_sk = Some(sk.clone());
    // A claim can lose a race to another confirmation: on a counter, a rolling window or the
    // customer's history (DynamoDB cancels one of two transactions on the same item). It is
    // still pending then, so judge again on what the winner wrote, and try again, with
    // jitter so racers spread out.
    let mut claim = Claim::Taken;
    for attempt in 0..CLAIM_ATTEMPTS {
        let h = match history.take() {
            Some(h) => h,
            None => ledger.history(&c.tenant, &c.customer).await?,
        };
        if let Some(act) = &c.act {
            match policy::judge(rules, &h, act, &c.id, now, call.dates) {
                Verdict::Allow => {}
                Verdict::Deny(err) if !approving && policy::liftable(rules, &err) => {
                    return Box::pin(ask_approval(w, call, c, err, &h)).await;
                }
                Verdict::Deny(err) => {
                    ledger.finish(&c, &stored_error(&err), false).await?;
                    return Err(err);
                }
                Verdict::Duplicate(earlier) => {
                    let reply = duplicate(w, call, &earlier).await;
                    let outcome = match &reply {
                        Ok(r) => json!({"data": r.answer.data, "summary": r.answer.summary}),
                        Err(e) => stored_error(e),
                    };
                    ledger.finish(&c, &outcome, false).await?;
                    return reply;
                }
            }
        }
        claim = ledger.claim(&c, now, now - CLAIM_LEASE_SECS, &h).await?;
        let still_pending = claim == Claim::Taken
            && ledger
                .get(&c.tenant, &c.id)
                .await?
                .is_some_and(|l| l.state == State::Pending);
        if !still_pending {
            break;
        }
        let jitter = rand::rng().random_range(0..=40 * (attempt + 1));
        tokio::time::sleep(Duration::from_millis(10 + jitter)).await;
    }
    match claim {
        Claim::Won => {}
        Claim::Taken => {
            tracing::info!(tool = %c.tool, state = ?c.state, "claim taken by another call");
            return wait_for_outcome(w, call, c).await;
        }
        Claim::OverCap(reason) => {
            let message = c
                .bounds
                .iter()
                .find(|b| b.reason == reason)
                .map(|b| b.message.clone())
                .unwrap_or_default();
            let err = ApiError::policy_denied(&reason, message);
            ledger.finish(&c, &stored_error(&err), false).await?;
            return Err(err);
        }
    }
    carry_out(w, call, c, &sk, false).await
}

/// A claim whose holder is gone (its lease ran out, or it gave the claim up on an unknown
/// outcome): taken over without counting again, and finished after looking in Stripe for
/// what already happened.
async fn take_over<W: WriteTool>(
    w: &W,
    call: &Call<'_>,
    mut c: Confirmation,
) -> Result<Reply, ApiError> {
    let ledger = call.app.ledger.as_ref();
    let now = now_unix();
    let sk = format!("{}#{}", rfc3339_now(), call.request_id);
    c.audit_sk = Some(sk.clone());
    match ledger
        .claim(&c, now, now - CLAIM_LEASE_SECS, &History::default())
        .await?
    {
        Claim::Won => carry_out(w, call, c, &sk, true).await,
        _ => {
            let latest = ledger
                .get(&c.tenant, &c.id)
                .await?
                .ok_or_else(|| ApiError::confirmation_invalid("unknown_token"))?;
            Box::pin(wait_for_outcome(w, call, latest)).await
        }
    }
}

/// Sends a claimed confirmation's requests in order and stores the outcome. `resumed`: an
/// earlier claimer may have sent some of them, so each is first looked for in Stripe.
async fn carry_out<W: WriteTool>(
    w: &W,
    call: &Call<'_>,
    c: Confirmation,
    sk: &str,
    resumed: bool,
) -> Result<Reply, ApiError> {
    let ledger = call.app.ledger.as_ref();
    // Read back before anything is sent: a preview this build cannot read (stored by
    // another version) stops here, not halfway through.
    let preview: W::Preview = match serde_json::from_value(c.preview.clone()) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(tool = %c.tool, error = %e, "a stored preview does not read back");
            let err = ApiError::confirmation_invalid("unknown_token");
            // Nothing was sent: the bounds and the customer's history get it back.
            ledger.finish(&c, &stored_error(&err), true).await?;
            return Err(err);
        }
    };
    // Write-ahead: the record exists before Stripe is asked, and the pipeline's closing
    // record (same key) completes it. A crash in between leaves it "pending", visibly.
    let sends = match write_ahead(call, W::NAME, &c, sk).await {
        Ok(sends) => sends,
        Err(e) => {
            // No record, no write: Stripe is not asked, and the claim lapses so a retry of
            // this confirmation can go ahead once the audit table answers again.
            if let Err(le) = ledger.abandon(&c).await {
                tracing::error!(error = %le, "could not release a write's claim");
            }
            return Err(e);
        }
    };
    let _ = call.write_ahead.set(crate::pipeline::WriteAhead {
        sk: sk.to_string(),
        sends,
        tool: W::NAME,
        customer: c.customer.clone(),
    });
    let mut sent = Vec::new();
    for (n, change) in steps(&c).iter().enumerate() {
        let found = if resumed {
            match look_for(call, change, &c.id).await {
                Ok(found) => found,
                Err(e) => {
                    let _ = ledger.abandon(&c).await;
                    return Err(e);
                }
            }
        } else {
            None
        };
        if let Some(value) = found {
            sent.push(value);
            continue;
        }
        if n == 0 && c.expires_at <= now_unix() {
            // Past its life and Stripe shows no trace of it: it never happened, and it
            // never will. The bounds and the customer's history get it back.
            let err = ApiError::confirmation_expired();
            ledger.finish(&c, &stored_error(&err), true).await?;
            return Err(err);
        }
        match call.stripe.write(change, &idempotency_key(&c, n)).await {
            Ok(value) => sent.push(value),
            Err(e) if n == 0 && refused(&e) => {
                if let Some(answer) = w.refused(call, &preview, &e).await {
                    let outcome = json!({"data": answer.data, "summary": answer.summary});
                    ledger.finish(&c, &outcome, false).await?;
                    return Ok(Reply::done(answer));
                }
                let err = ApiError::from(e);
                // Stripe refused: nothing changed, so the bounds are given back.
                ledger.finish(&c, &stored_error(&err), true).await?;
                return Err(err);
            }
            // A later step Stripe refuses (the subscription already ended, say): the first
            // happened, so the write stands; its answer says what Stripe holds.
            Err(e) if refused(&e) => {
                tracing::warn!(tool = %c.tool, step = n, error = %e, "a follow-up change was refused");
                sent.push(Value::Null);
            }
            Err(e) => {
                // Unknown whether it happened: a retry looks for it in Stripe, then resends
                // under the same key, which Stripe answers once.
                if let Err(le) = ledger.abandon(&c).await {
                    tracing::error!(error = %le, "could not release a write's claim");
                }
                return Err(ApiError::from(e));
            }
        }
    }
    let answer = w.done(call, &preview, &sent);
    let outcome = json!({"data": answer.data, "summary": answer.summary});
    ledger.finish(&c, &outcome, false).await?;
    Ok(Reply::done(answer))
}

/// What Stripe shows of `change` sent under confirmation `id`, if it happened.
async fn look_for(call: &Call<'_>, change: &Change, id: &str) -> Result<Option<Value>, ApiError> {
    let Some(trace) = api::trace_of(change) else {
        return Ok(None);
    };
    let found = match &trace {
        Trace::Tagged(req) | Trace::Listed(req) | Trace::Status(req, _) => {
            call.stripe.get(req).await.map_err(ApiError::from)?
        }
    };
    Ok(trace.matches(found, id))
}

/// The same write, done moments ago: its outcome again, saying so.
async fn duplicate<W: WriteTool>(
    w: &W,
    call: &Call<'_>,
    earlier: &Entry,
) -> Result<Reply, ApiError> {
    let first = call
        .app
        .ledger
        .get(&call.tenant.tenant, &earlier.id)
        .await?
        .ok_or_else(|| ApiError::billing_unavailable(503, "confirmation_in_progress"))?;
    let request_id = first
        .audit_sk
        .as_deref()
        .and_then(|sk| sk.split_once('#'))
        .map(|(_, id)| id.to_string());
    let mut reply = Box::pin(wait_for_outcome(w, call, first)).await?;
    let when = call.dates.time(earlier.at);
    reply.answer.summary = format!(
        "That was already done at {when}, so nothing more was changed. {}",
        reply.answer.summary
    );
    if let Some(data) = reply.answer.data.as_object_mut() {
        data.insert(
            "duplicate_of".into(),
            json!({"request_id": request_id, "at": rfc3339(earlier.at)}),
        );
    }
    Ok(reply)
}

/// Stripe answered and changed nothing (a 4xx other than a conflict or rate limit).
fn refused(e: &StripeError) -> bool {
    matches!(e.status(), Some(s) if (400..500).contains(&s) && s != 409 && s != 429)
}

async fn write_ahead(
    call: &Call<'_>,
    tool: &str,
    c: &Confirmation,
    sk: &str,
) -> Result<Value, ApiError> {
    let sends = Value::Array(
        steps(c)
            .iter()
            .map(|change| {
                json!({
                    "method": change.method, "path": change.path,
                    "params": audit::redact(&Value::Object(
                        change.params.pairs().iter().map(|(k, v)| (k.clone(), json!(v))).collect(),
                    )),
                })
            })
            .collect(),
    );
    let sends = match sends {
        Value::Array(mut one) if one.len() == 1 => one.remove(0),
        many => many,
    };
    let mut record = audit::AuditRecord::new(
        &call.tenant.tenant,
        Some(call.customer_id),
        call.caller.actor(),
        tool,
        audit::redact(&c.args),
        call.channel,
        call.request_id,
        call.app.audit_retention_days,
    );
    record.sk = sk.to_string();
    record.outcome = "pending".into();
    record.sends = Some(sends.clone());
    if let Err(e) = call.app.audit.write(&record).await {
        tracing::error!(error = %e, "write-ahead audit record not stored; write refused");
        audit::log(&record, false);
        return Err(ApiError::billing_unavailable(503, "audit_unavailable"));
    }
    audit::log(&record, true);
    Ok(sends)
}

fn stored_error(e: &ApiError) -> Value {
    json!({"error": {"status": e.status, "code": e.code, "reason": e.reason,
                     "message": e.message, "escalate": e.escalate}})
}

/// The first outcome, again.
fn replay(c: &Confirmation) -> Result<Reply, ApiError> {
    let Some(outcome) = &c.outcome else {
        tracing::error!(tool = %c.tool, "a finished confirmation has no stored outcome");
        return Err(ApiError::billing_unavailable(
            503,
            "confirmation_in_progress",
        ));
    };
    if let Some(e) = outcome.get("error") {
        return Err(ApiError::restored(e));
    }
    Ok(Reply::done(Answer {
        data: outcome["data"].clone(),
        summary: outcome["summary"].as_str().unwrap_or_default().to_string(),
    }))
}

/// Another call holds the claim: wait for its outcome, or take the claim over when its
/// holder is gone (its lease ran out, or it gave the claim up on an unknown outcome).
async fn wait_for_outcome<W: WriteTool>(
    w: &W,
    call: &Call<'_>,
    c: Confirmation,
) -> Result<Reply, ApiError> {
    let ledger = call.app.ledger.as_ref();
    let deadline = tokio::time::Instant::now() + WAIT_FOR_OUTCOME;
    let mut latest = c;
    loop {
        match latest.state {
            State::Done => return replay(&latest),
            State::Claimed
                if latest
                    .claimed_at
                    .is_some_and(|t| t < now_unix() - CLAIM_LEASE_SECS) =>
            {
                return Box::pin(take_over(w, call, latest)).await;
            }
            _ => {}
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(tool = %latest.tool, state = ?latest.state, claimed_at = ?latest.claimed_at,
                "gave up waiting for another call's outcome of this confirmation");
            return Err(ApiError::billing_unavailable(
                503,
                "confirmation_in_progress",
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        latest = ledger
            .get(&latest.tenant, &latest.id)
            .await?
            .ok_or_else(|| ApiError::confirmation_invalid("unknown_token"))?;
    }
}
