//! `POST /v1/{tenant}/mcp`: every tool to MCP clients (Streamable HTTP, JSON responses)
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve(app, shared::edge::mcp::handle).await
}
