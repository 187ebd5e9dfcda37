//! `POST /v1/{tenant}/mcp`: every tool to any MCP client, over the Streamable HTTP
//! transport of the Model Context Protocol (2025-11-25), on the same pipeline as the REST
//! routes: the same identity, ownership checks, bounds, two-phase writes and audit.
//!
//! JSON responses only (no server-initiated streams) and no sessions: every request carries
//! the visitor's token and the negotiated version, so any Lambda instance can answer it.
use std::time::Instant;

use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};

use crate::auth::caller::Admits;
use crate::edge::{body_bytes, request_id, response, routes};
use crate::endpoints::registry::{self, Effect, ToolInfo};
use crate::error::ApiError;
use crate::pipeline::app::App;
use crate::pipeline::endpoint::{Incoming, Query, Reply};
use crate::pipeline::{Admitted, Trail, admit, record, tenant_route};
use crate::ports::audit;

/// The versions this server speaks, newest first; `initialize` answers the client's when it
/// is one of them, else the newest.
pub const PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
pub const LATEST: &str = PROTOCOL_VERSIONS[0];
/// What a request without an `MCP-Protocol-Version` header speaks (the transport's rule).
const ASSUMED: &str = "2025-03-26";
/// The first version without JSON-RPC batches, and the first with `structuredContent`.
const NO_BATCHES_FROM: &str = "2025-06-18";

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;

/// The route's name in audit lines of calls refused before a tool was named.
const ROUTE: &str = "mcp";

/// The most messages one JSON-RPC batch may hold: a batch runs the pipeline once per
/// message, so it is bounded like the request rate it counts against.
pub const MAX_BATCH: usize = 10;

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let request_id = request_id(&req);
    let started = Instant::now();
    let path = req.uri().path().to_string();
    if let Err(e) = routes::check(req.method().as_str(), &path) {
        return response::failure(&e, &request_id);
    }
    // The HTTP layer first: tenant, size and the visitor's token, before any JSON-RPC.
    let mut trail = Trail::new(audit::MCP);
    let query = Query::default();
    let incoming = crate::edge::incoming(&req, &query);
    let admitted = match tenant_route(&path, &["mcp"]) {
        Ok(tenant) => {
            admit(
                app,
                Admits::VisitorTokens,
                crate::pipeline::MAX_BODY_BYTES,
                &incoming,
                tenant,
                &mut trail,
            )
            .await
        }
        Err(e) => Err(e),
    };
    let mut admitted = match admitted {
        Ok(a) => a,
        Err(e) => {
            let resp = refused(&e, &request_id);
            record(app, ROUTE, trail, &Err::<(), _>(e), &request_id, started).await;
            return resp;
        }
    };
    if let Some(resp) = transport_refusal(&req, &admitted) {
        return resp;
    }
    let version = header(&req, "mcp-protocol-version").unwrap_or(ASSUMED);
    let message: Value = match serde_json::from_slice(body_bytes(&req)) {
        Ok(v) => v,
        Err(_) => return fault(400, PARSE_ERROR, "Parse error", None),
    };
    if let Value::Array(batch) = &message {
        if version >= NO_BATCHES_FROM {
            let why = format!(
                "Protocol version {version} has no JSON-RPC batches; send one message per request."
            );
            return fault(400, INVALID_REQUEST, &why, None);
        }
        if batch.is_empty() {
            return fault(400, INVALID_REQUEST, "An empty batch.", None);
        }
        if batch.len() > MAX_BATCH {
            let why = format!("A batch holds at most {MAX_BATCH} messages; nothing was run.");
            return fault(400, INVALID_REQUEST, &why, None);
        }
        // The whole batch against the caller's rate before any of it runs: all or nothing.
        let size = batch.len() as u64;
        let now = crate::timefmt::now_unix();
        let (config, caller) = (&admitted.config, &admitted.caller);
        if let Err(e) = crate::pipeline::limits::check(app, config, caller, size, now).await {
            trail.actor = Some(caller.actor());
            let resp = response::failure(&e, &request_id);
            record(app, ROUTE, trail, &Err::<(), _>(e), &request_id, started).await;
            return resp;
        }
        admitted.prepaid = true;
    }
    let session = Session {
        app,
        admitted: &admitted,
        version,
    };
    match message {
        Value::Array(batch) => {
            let mut answers = Vec::new();
            for (n, m) in batch.into_iter().enumerate() {
                let id = format!("{request_id}:{n}");
                match session.message(m, &id, true).await {
                    Handled::Answer(a) | Handled::Fault(a) => answers.push(a),
                    Handled::Accepted => {}
                }
            }
            if answers.is_empty() {
                accepted()
            } else {
                response::build(200, &Value::Array(answers), &[])
            }
        }
        single => match session.message(single, &request_id, false).await {
            Handled::Answer(a) => response::build(200, &a, &[]),
            Handled::Fault(a) => response::build(400, &a, &[]),
            Handled::Accepted => accepted(),
        },
    }
}

/// A refusal at the HTTP layer, in the contract's envelope; a missing or bad token also
/// says which scheme to use.
fn refused(e: &ApiError, request_id: &str) -> Response<Body> {
    let mut resp = response::failure(e, request_id);
    if e.status == 401
        && let Ok(v) = "Bearer realm=\"mcp\"".parse()
    {
        resp.headers_mut().insert("www-authenticate", v);
    }
    resp
}

/// The transport's own checks, after the caller is known: an origin the tenant does not
/// allow (DNS rebinding), a version this server does not speak, a body that is not JSON,
/// or a client that accepts no JSON.
fn transport_refusal(req: &Request, admitted: &Admitted) -> Option<Response<Body>> {
    if let Some(origin) = header(req, "origin")
        && !admitted.config.allows_origin(origin)
    {
        return Some(fault(403, INVALID_REQUEST, "Origin not allowed.", None));
    }
    if let Some(v) = header(req, "mcp-protocol-version")
        && !PROTOCOL_VERSIONS.contains(&v)
    {
        let why = format!("Unsupported protocol version {v}.");
        let data = json!({"supported": PROTOCOL_VERSIONS, "requested": v});
        return Some(fault(400, INVALID_REQUEST, &why, Some(data)));
    }
    if let Some(ct) = header(req, "content-type")
        && !media_type(ct).eq_ignore_ascii_case("application/json")
    {
        return Some(fault(415, INVALID_REQUEST, "Send application/json.", None));
    }
    if let Some(accept) = header(req, "accept")
        && !accept.split(',').map(media_type).any(|m| {
            ["application/json", "application/*", "*/*"]
                .iter()
                .any(|ok| m.eq_ignore_ascii_case(ok))
        })
    {
        let why = "This server answers with application/json; accept it.";
        return Some(fault(406, INVALID_REQUEST, why, None));
    }
    None
}

fn media_type(v: &str) -> &str {
    v.split(';').next().unwrap_or("").trim()
}

fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// What one JSON-RPC message came to.
enum Handled {
    /// A response to a request (a result, or an error the request earned).
    Answer(Value),
    /// The message itself was not valid JSON-RPC: HTTP 400 when sent alone.
    Fault(Value),
    /// A notification or a client's response: nothing to answer.
    Accepted,
}

/// One HTTP request's caller and negotiated version.
struct Session<'a> {
    app: &'a App,
    admitted: &'a Admitted,
    version: &'a str,
}

impl Session<'_> {
    async fn message(&self, m: Value, call_id: &str, in_batch: bool) -> Handled {
        let Value::Object(obj) = m else {
            return Handled::Fault(error(
                Value::Null,
                INVALID_REQUEST,
                "A message is a JSON object.",
                None,
            ));
        };
        let id = obj.get("id").cloned();
        let valid_id = matches!(&id, Some(Value::String(_) | Value::Number(_)));
        if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            let id = if valid_id { id } else { None };
            return Handled::Fault(error(
                id.unwrap_or(Value::Null),
                INVALID_REQUEST,
                "`jsonrpc` must be \"2.0\".",
                None,
            ));
        }
        let method = match obj.get("method") {
            Some(Value::String(m)) => m.as_str(),
            Some(_) => {
                return Handled::Fault(error(
                    if valid_id { id.unwrap() } else { Value::Null },
                    INVALID_REQUEST,
                    "`method` must be a string.",
                    None,
                ));
            }
            // A client's result or error for a request of ours: we send none, so none is
            // awaited.
            None if obj.contains_key("result") || obj.contains_key("error") => {
                return Handled::Accepted;
            }
            None => {
                return Handled::Fault(error(
                    Value::Null,
                    INVALID_REQUEST,
                    "Not a JSON-RPC request, notification or response.",
                    None,
                ));
            }
        };
        let Some(id) = id else {
            // Notifications (`notifications/initialized`, cancellations) need no answer.
            return Handled::Accepted;
        };
        if !valid_id {
            return Handled::Fault(error(
                Value::Null,
                INVALID_REQUEST,
                "`id` must be a string or a number.",
                None,
            ));
        }
        let params = obj.get("params");
        if params.is_some_and(|p| !p.is_object()) {
            return Handled::Answer(error(
                id,
                INVALID_PARAMS,
                "`params` must be an object.",
                None,
            ));
        }
        let empty = Map::new();
        let params = params.and_then(Value::as_object).unwrap_or(&empty);
        let outcome = match method {
            "initialize" if in_batch => Err((
                INVALID_REQUEST,
                "`initialize` must not be part of a batch.".to_string(),
            )),
            "initialize" => initialize(params),
            "ping" => Ok(json!({})),
            "tools/list" => Ok(self.list()),
            "tools/call" => self.call(params, call_id).await,
            other => Err((METHOD_NOT_FOUND, format!("Method not found: {other}"))),
        };
        Handled::Answer(match outcome {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err((code, message)) => error(id, code, &message, None),
        })
    }

    /// The tenant's enabled tools, with the same input schemas as the REST tool list.
    fn list(&self) -> Value {
        let tools: Vec<Value> = registry::tools()
            .iter()
            .filter(|t| registry::served(&self.admitted.config, t.name))
            .map(listed)
            .collect();
        json!({ "tools": tools })
    }

    /// Runs the tool through the pipeline's second half. A refusal is the tool's result
    /// (`isError`), so a model can explain it; only a malformed call is a protocol error.
    async fn call(&self, params: &Map<String, Value>, call_id: &str) -> Result<Value, RpcError> {
        let name = match params.get("name") {
            Some(Value::String(n)) => n.as_str(),
            _ => return Err((INVALID_PARAMS, "`name` must be a tool's name.".into())),
        };
        let arguments = match params.get("arguments") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(a @ Value::Object(_)) => a.clone(),
            Some(_) => return Err((INVALID_PARAMS, "`arguments` must be an object.".into())),
        };
        let Some((tool, run)) = registry::calls().into_iter().find(|(n, _)| *n == name) else {
            return Err((INVALID_PARAMS, format!("Unknown tool: {name}")));
        };
        let started = Instant::now();
        let body = arguments.to_string();
        // The HTTP request was admitted already; a tool reads its arguments only.
        let (query, headers) = (Query::default(), http::HeaderMap::new());
        let incoming = Incoming {
            path: "",
            headers: &headers,
            body: body.as_bytes(),
            query: &query,
        };
        let mut trail = Trail::new(audit::MCP);
        trail.tenant = Some(self.admitted.config.tenant.clone());
        let result = run(self.app, self.admitted, &incoming, call_id, &mut trail).await;
        record(self.app, tool, trail, &result, call_id, started).await;
        Ok(tool_result(result, self.version))
    }
}

type RpcError = (i64, String);

fn initialize(params: &Map<String, Value>) -> Result<Value, RpcError> {
    let Some(asked) = params.get("protocolVersion").and_then(Value::as_str) else {
        return Err((INVALID_PARAMS, "`protocolVersion` must be a string.".into()));
    };
    let version = PROTOCOL_VERSIONS
        .iter()
        .find(|v| **v == asked)
        .copied()
        .unwrap_or(LATEST);
    Ok(json!({
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": false}},
        "serverInfo": {
            "name": "stripe-billing-bot",
            "title": "Stripe billing",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "instructions": INSTRUCTIONS,
    }))
}

const INSTRUCTIONS: &str = "Tools about the signed-in visitor's own Stripe billing. Each result's text is a summary you may say as it is. Write tools answer first with a preview and a confirmation token and change nothing; call the same tool again with {\"confirm\": token} only after the visitor has agreed to exactly what the preview said. A result with isError explains a refusal (its code and reason); do not retry a policy refusal.";

/// A tool as `tools/list` shows it: reads say so; writes are destructive (they change
/// billing) and idempotent (a replayed confirmation does nothing more).
fn listed(t: &ToolInfo) -> Value {
    let (read_only, destructive, idempotent) = match t.effect {
        Effect::Reads => (true, false, true),
        Effect::Sends => (false, false, false),
        Effect::Writes => (false, true, true),
    };
    let title = title(t.name);
    json!({
        "name": t.name,
        "title": title,
        "description": t.description,
        "inputSchema": (t.schema)(),
        "annotations": {
            "title": title,
            "readOnlyHint": read_only,
            "destructiveHint": destructive,
            "idempotentHint": idempotent,
            // One Stripe account's records, not an open world.
            "openWorldHint": false,
        },
    })
}

/// `get_billing_info` → `Get billing info`.
fn title(name: &str) -> String {
    let words = name.replace('_', " ");
    let mut c = words.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The envelope as an MCP tool result: `data` as `structuredContent`, the summary as text;
/// a write's confirmation in `_meta` and, for the model, as a second text.
pub fn tool_result(result: Result<Reply, ApiError>, version: &str) -> Value {
    match result {
        Ok(reply) => {
            let mut content = vec![json!({"type": "text", "text": reply.answer.summary})];
            let mut meta = json!({"status": reply.status});
            if let Some(c) = &reply.confirmation {
                content.push(json!({"type": "text", "text": confirm_hint(c)}));
                meta["confirmation"] = c.clone();
            }
            if let Some(a) = &reply.approval {
                meta["approval"] = a.clone();
            }
            let data = match reply.answer.data {
                Value::Object(o) => Value::Object(o),
                other => json!({ "value": other }),
            };
            if version < NO_BATCHES_FROM {
                // Before structuredContent existed, the data travels as text.
                content.push(json!({"type": "text", "text": data.to_string()}));
            }
            json!({
                "content": content,
                "structuredContent": data,
                "isError": false,
                "_meta": meta,
            })
        }
        Err(e) => {
            let said = match &e.reason {
                Some(r) => format!("{} ({}: {r})", e.message, e.code),
                None => format!("{} ({})", e.message, e.code),
            };
            json!({
                "content": [{"type": "text", "text": said}],
                "structuredContent": {"error": e},
                "isError": true,
            })
        }
    }
}

fn confirm_hint(c: &Value) -> String {
    format!(
        "Nothing has changed yet. Once the visitor agrees, call this tool again with {{\"confirm\": \"{}\"}} (valid until {}).",
        c["token"].as_str().unwrap_or_default(),
        c["expires_at"].as_str().unwrap_or_default()
    )
}

fn error(id: Value, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut e = json!({"code": code, "message": message});
    if let Some(d) = data {
        e["data"] = d;
    }
    json!({"jsonrpc": "2.0", "id": id, "error": e})
}

/// A message refused at the transport: an HTTP error with a JSON-RPC error that answers no
/// request (`id: null`).
fn fault(status: u16, code: i64, message: &str, data: Option<Value>) -> Response<Body> {
    response::build(status, &error(Value::Null, code, message, data), &[])
}

fn accepted() -> Response<Body> {
    Response::builder()
        .status(202)
        .body(Body::Empty)
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_dates() {
        assert!("2025-03-26" < NO_BATCHES_FROM && "2025-11-25" >= NO_BATCHES_FROM);
        assert_eq!(LATEST, "2025-11-25");
    }

    #[test]
    fn initialize_answers_the_clients_version_or_the_newest() {
        let asked = |v: &str| {
            initialize(json!({"protocolVersion": v}).as_object().unwrap()).unwrap()
                ["protocolVersion"]
                .clone()
        };
        assert_eq!(asked("2025-06-18"), "2025-06-18");
        assert_eq!(asked("1999-01-01"), LATEST);
        assert!(initialize(&Map::new()).is_err());
    }

    #[test]
    fn every_tool_is_listed_with_hints_that_match_what_it_does() {
        for t in registry::tools() {
            let l = listed(&t);
            let a = &l["annotations"];
            assert_eq!(l["inputSchema"]["type"], "object", "{}", t.name);
            match t.effect {
                Effect::Reads => assert_eq!(a["readOnlyHint"], true, "{}", t.name),
                Effect::Sends => assert_eq!(a["readOnlyHint"], false, "{}", t.name),
                Effect::Writes => {
                    assert_eq!(a["destructiveHint"], true, "{}", t.name);
                    assert_eq!(a["idempotentHint"], true, "{}", t.name);
                }
            }
        }
        assert_eq!(title("get_some_thing"), "Get some thing");
    }

    #[test]
    fn every_listed_tool_can_be_called_and_nothing_else() {
        let listed: Vec<&str> = registry::tools().iter().map(|t| t.name).collect();
        let callable: Vec<&str> = registry::calls().iter().map(|(n, _)| *n).collect();
        assert_eq!(listed, callable);
    }

    #[test]
    fn refusals_are_tool_results_with_the_contracts_code() {
        let r = tool_result(Err(ApiError::not_owner("invoice")), LATEST);
        assert_eq!(r["isError"], true);
        assert_eq!(r["structuredContent"]["error"]["code"], "not_owner");
        assert!(
            r["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains("not_owner")
        );
    }
}
