//! How an approval is said: to the agent deciding it (everything), to the visitor who asked
//! (what they asked and how it ended; never the agent's name or note), and once by the bot
//! after a decision.
use serde_json::{Value, json};

use crate::ports::state::{Approval, ApprovalStatus};
use crate::timefmt::rfc3339;

/// What an agent (and the panel) sees of an approval: the write as the visitor saw it, the
/// bound and by how much, and how it was decided.
pub fn agent_view(a: &Approval, now: i64) -> Value {
    json!({
        "id": a.id, "customer": a.customer, "user_id": a.user_id, "tool": a.tool,
        "status": a.status_at(now), "preview": a.preview, "summary": a.summary,
        "bound": a.bound, "asked_at": rfc3339(a.asked_at), "expires_at": rfc3339(a.expires_at),
        "decided_by": a.decided_by, "decided_at": a.decided_at.and_then(rfc3339),
        "note": a.note, "outcome": a.outcome,
    })
}

/// What the visitor sees of their own request: what they asked and how it ended (not the
/// agent's note or name: those are the merchant's).
pub fn visitor_view(a: &Approval, now: i64) -> Value {
    let outcome = a.outcome.as_ref().map(|o| match o.get("error") {
        Some(e) => json!({"ok": false, "summary": e["message"]}),
        None => json!({"ok": true, "summary": o["summary"]}),
    });
    json!({
        "id": a.id, "tool": a.tool, "status": a.status_at(now), "summary": a.summary,
        "asked_at": rfc3339(a.asked_at), "expires_at": rfc3339(a.expires_at),
        "decided_at": a.decided_at.and_then(rfc3339), "outcome": outcome,
    })
}

/// One sentence for the visitor about a decided request, said once by the bot.
pub fn decided_sentence(a: &Approval, now: i64) -> Option<String> {
    let what = a.summary.trim_end_matches('.').to_string();
    match a.status_at(now) {
        ApprovalStatus::Approved => Some(match a.outcome.as_ref().and_then(|o| o.get("error")) {
            None => {
                format!("A person from our team approved your request ({what}), and it was done.")
            }
            Some(_) => format!(
                "A person from our team approved your request ({what}), but it could not be done as it was asked; support will follow up."
            ),
        }),
        ApprovalStatus::Denied => Some(format!(
            "A person from our team looked at your request ({what}) and declined it; nothing was changed."
        )),
        ApprovalStatus::Expired => Some(format!(
            "Your request ({what}) was not decided in time, so nothing was changed; you can ask again."
        )),
        ApprovalStatus::Pending => None,
    }
}
