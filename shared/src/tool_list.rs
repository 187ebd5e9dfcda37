//! `GET /v1/{tenant}/tools`: the tenant's enabled tools with the JSON Schema of their
//! arguments (generated from the Rust types), in the shape LLM function calling takes.
//! It lists metadata only, so it needs no visitor identity; unknown tenants get 404.
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use crate::pipeline::{App, request_id, tenant_route};
use crate::response;
use crate::tools;

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let request_id = request_id(&req);
    let listed = async {
        let tenant_id = tenant_route(req.uri().path(), &["tools"])?;
        // Config only: listing tools never needs the tenant's secrets.
        let config = app
            .tenants
            .config(tenant_id)
            .await
            .map_err(|e| e.to_api_error())?
            .ok_or_else(crate::ApiError::unknown_tenant)?;
        let tools: Vec<Value> = tools::all()
            .into_iter()
            .filter(|t| config.tool_enabled(t.name))
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": (t.schema)(),
                }})
            })
            .collect();
        Ok::<_, crate::ApiError>(json!({"tenant": config.tenant, "tools": tools}))
    }
    .await;
    match listed {
        Ok(body) => response::ok(body, &request_id),
        Err(e) => response::failure(&e, &request_id),
    }
}
