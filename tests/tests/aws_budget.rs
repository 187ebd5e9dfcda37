//! AWS that refuses connections or never answers: the real SDK clients, configured as a
//! deployment configures them, give up within the budget instead of hanging the function.
use std::time::{Duration, Instant};

use shared::adapters::dynamo::tenants::DynamoTenants;
use shared::config::AwsBudget;
use shared::ports::tenants::TenantStore;
use shared::wiring::aws_sdk_config;

async fn store_at(endpoint: &str) -> DynamoTenants {
    // SAFETY: set before any client reads them; only these tests read them.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_REGION", "us-east-1");
    }
    let conf = aws_sdk_config(AwsBudget::default(), Some(endpoint)).await;
    DynamoTenants::new(
        aws_sdk_dynamodb::Client::new(&conf),
        "tenants".into(),
        "contacts".into(),
    )
}

fn within_budget(took: Duration) {
    let b = AwsBudget::default();
    assert!(
        took <= b.operation_timeout + Duration::from_millis(700),
        "took {took:?}"
    );
}

#[tokio::test]
async fn refused_connections_fail_within_the_budget() {
    // Bound, then closed: nothing listens on this port now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = store_at(&format!("http://127.0.0.1:{port}")).await;
    let t0 = Instant::now();
    let got = store.config("demo").await;
    within_budget(t0.elapsed());
    assert!(got.is_err(), "{got:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_fails_within_the_budget() {
    // Accepts connections and never writes a byte, like a frozen DynamoDB.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let store = store_at(&format!("http://{addr}")).await;
    let t0 = Instant::now();
    let got = store.config("demo").await;
    within_budget(t0.elapsed());
    assert!(got.is_err(), "{got:?}");
}
