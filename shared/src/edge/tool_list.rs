//! `GET /v1/{tenant}/tools[?format=openai|anthropic]`: the tenant's enabled tools with the
//! JSON Schema of their arguments (generated from the Rust types), in the shape the LLM
//! provider's tool calling takes. It lists metadata only, so it needs no visitor identity;
//! unknown tenants get 404.
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};

use crate::edge::{request_id, response, routes};
use crate::endpoints::registry::{self, ToolInfo};
use crate::error::ApiError;
use crate::pipeline::app::App;
use crate::pipeline::args;
use crate::pipeline::tenant_route;

/// The tool-calling shapes we publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"type": "function", "function": {name, description, parameters, strict: true}}`,
    /// valid for OpenAI's strict mode: every property required, optional ones nullable.
    OpenAi,
    /// `{name, description, input_schema}`: optional properties may be left out.
    Anthropic,
}

impl Format {
    fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("openai") => Ok(Format::OpenAi),
            Some("anthropic") => Ok(Format::Anthropic),
            Some(_) => Err(ApiError::invalid_request(
                "Invalid field `format`: must be `openai` or `anthropic`.",
            )
            .with_reason("invalid_field")),
        }
    }

    pub fn entry(self, t: &ToolInfo) -> Value {
        let schema = (t.schema)();
        match self {
            Format::OpenAi => json!({"type": "function", "function": {
                "name": t.name, "description": t.description,
                "parameters": args::strict(&schema), "strict": true,
            }}),
            Format::Anthropic => json!({
                "name": t.name, "description": t.description, "input_schema": schema,
            }),
        }
    }
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let request_id = request_id(&req);
    let listed = async {
        routes::check(req.method().as_str(), req.uri().path())?;
        let tenant_id = tenant_route(req.uri().path(), &["tools"])?;
        let format = Format::parse(req.query_string_parameters().first("format"))?;
        // Config only: listing tools never needs the tenant's secrets.
        let config = app
            .tenants
            .config(tenant_id)
            .await?
            .ok_or_else(ApiError::unknown_tenant)?;
        let tools: Vec<Value> = registry::tools()
            .iter()
            .filter(|t| registry::served(&config, t.name))
            .map(|t| format.entry(t))
            .collect();
        // MCP clients get the same tools, with the same schemas, from the MCP endpoint.
        let mcp = json!({
            "url": format!("/v1/{}/mcp", config.tenant),
            "transport": "streamable-http",
            "protocol_version": crate::edge::mcp::LATEST,
        });
        Ok::<_, ApiError>(json!({"tenant": config.tenant, "tools": tools, "mcp": mcp}))
    }
    .await;
    match listed {
        Ok(body) => response::ok(body, &request_id),
        Err(e) => response::failure(&e, &request_id),
    }
}
