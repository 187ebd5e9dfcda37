//! `POST /v1/{tenant}/mcp`: every tool to MCP clients (Streamable HTTP, JSON responses)
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve(app, shared::mcp::handle).await
}
