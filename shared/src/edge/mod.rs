//! The edge: Lambda and HTTP only. A request becomes the pipeline's [`Incoming`]; a reply or
//! an error becomes the contract's envelope; a browser's preflight and CORS grants, the route
//! table and its fallback, MCP and the tool list live here. Nothing below knows Lambda.
pub mod cors;
pub mod faces;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod mcp;
pub mod pay;
pub mod response;
pub mod routes;
pub mod scheduled;
pub mod telemetry;
pub mod tool_list;

use std::convert::Infallible;
use std::future::Future;
use std::time::Instant;

use lambda_http::{Body, Request, RequestExt, Response, service_fn};

use crate::auth::caller::Admits;
use crate::error::ApiError;
use crate::pipeline::app::App;
use crate::pipeline::endpoint::{Endpoint, Incoming, Query, Reply, Shape};
use crate::pipeline::{Trail, record, run};
use crate::ports::audit;

/// Runs a handler as a Lambda function until the runtime stops it. The app is built once
/// per cold start and lives as long as the process, so every invocation borrows it. Every
/// route answers a browser's preflight and grants the tenant's allowed origins here.
pub async fn serve<H, Fut>(app: App, handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(&'static App, Request) -> Fut + Send + Sync,
    Fut: Future<Output = Response<Body>> + Send,
{
    let app: &'static App = Box::leak(Box::new(app));
    let handler = &handler;
    lambda_http::run(service_fn(move |req: Request| {
        let answer = edge(app, req, handler);
        async move { Ok::<_, Infallible>(answer.await) }
    }))
    .await
}

/// One request at the edge: a preflight is answered here; any other call is handled, and
/// its answer carries the CORS grant when the tenant allows the caller's origin.
pub async fn edge<H, Fut>(app: &'static App, req: Request, handler: &H) -> Response<Body>
where
    H: Fn(&'static App, Request) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    if cors::is_preflight(&req) {
        return cors::preflight(app, &req).await;
    }
    let asked = cors::Asked::of(&req);
    let mut resp = handler(app, req).await;
    if let Some(origin) = asked.granted(app).await {
        cors::grant(&mut resp, &origin);
    }
    resp
}

/// Runs one endpoint (a read tool, a write tool, agent insight, the webhook, ...) as a
/// Lambda function.
pub async fn serve_endpoint<T: Endpoint>(app: App, endpoint: T) -> Result<(), lambda_http::Error> {
    let endpoint: &'static T = Box::leak(Box::new(endpoint));
    serve(app, move |app, req| handle(app, endpoint, req)).await
}

/// One request of an endpoint on its own route: the route's method checked, the pipeline
/// run, the audit record written, the answer in the envelope.
pub async fn handle<T: Endpoint>(app: &App, endpoint: &T, req: Request) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(&req);
    // API Gateway and the local router send every method of a route's path to its
    // function; a wrong one is answered here, from the same route table as the fallback.
    if let Err(e) = routes::check(req.method().as_str(), req.uri().path()) {
        return response::failure(&e, &request_id);
    }
    let query = query_of(&req);
    let incoming = incoming(&req, &query);
    let mut trail = Trail::new(audit::REST);
    let mut result = run(app, endpoint, &incoming, &request_id, &mut trail).await;
    if matches!(T::ADMITS, Admits::Agents | Admits::AgentsOrPanel) {
        result = result.map_err(ApiError::for_agent);
    }
    record(app, T::NAME, trail, &result, &request_id, started).await;
    match result {
        Ok(reply) => respond(T::NAME, T::SHAPE, reply, &request_id),
        Err(err) => response::failure(&err, &request_id),
    }
}

/// A success in the endpoint's shape.
pub fn respond(name: &str, shape: Shape, reply: Reply, request_id: &str) -> Response<Body> {
    match shape {
        Shape::Tool => response::success(name, reply, request_id),
        Shape::Plain => response::ok(reply.answer.data, request_id),
        Shape::PlainWithSummary => {
            let mut body = reply.answer.data;
            body["summary"] = serde_json::Value::String(reply.answer.summary);
            response::ok(body, request_id)
        }
    }
}

/// The request as the pipeline takes it.
pub fn incoming<'a>(req: &'a Request, query: &'a Query) -> Incoming<'a> {
    Incoming {
        path: req.uri().path(),
        headers: req.headers(),
        body: body_bytes(req),
        query,
    }
}

/// The query string's parameters (the first value of each, in the order given).
pub fn query_of(req: &Request) -> Query {
    let map = req.query_string_parameters();
    Query(
        map.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

pub fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    }
}

pub fn request_id(req: &Request) -> String {
    req.lambda_context_ref()
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}
