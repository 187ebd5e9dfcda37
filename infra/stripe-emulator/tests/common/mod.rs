//! A client for one emulator account, speaking raw form bodies as Stripe's SDKs do.
#![allow(dead_code)]

use rand::Rng;
use reqwest::{Client, Response};
use serde_json::{Value, json};

pub struct Emu {
    pub base: String,
    pub key: String,
    pub http: Client,
}

pub fn random_key() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..24)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect();
    format!("sk_test_{tail}")
}

impl Emu {
    pub async fn start() -> Self {
        let (addr, _task) = stripe_emulator::spawn().await.expect("emulator starts");
        Self {
            base: format!("http://{addr}"),
            key: random_key(),
            http: Client::new(),
        }
    }

    /// Another account on the same emulator.
    pub fn other(&self) -> Self {
        Self {
            base: self.base.clone(),
            key: random_key(),
            http: self.http.clone(),
        }
    }

    pub async fn send(&self, method: &str, path: &str, body: &str) -> Response {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self
                .http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.to_string()),
        };
        req.bearer_auth(&self.key).send().await.expect("reachable")
    }

    pub async fn call(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let resp = self.send(method, path, body).await;
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("json body"))
    }

    pub async fn ok(&self, method: &str, path: &str, body: &str) -> Value {
        let (status, v) = self.call(method, path, body).await;
        assert_eq!(status, 200, "{method} {path} {body}: {v}");
        v
    }

    pub async fn post(&self, path: &str, body: &str) -> Value {
        self.ok("POST", path, body).await
    }

    pub async fn get(&self, path: &str) -> Value {
        self.ok("GET", path, "").await
    }

    pub async fn control(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/_emulator/{path}", self.base);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let resp = req.send().await.expect("reachable");
        assert!(resp.status().is_success(), "control {path}");
        resp.json().await.expect("json")
    }

    pub async fn advance(&self, seconds: i64) -> Value {
        self.control("POST", "clock/advance", json!({"seconds": seconds}))
            .await
    }

    pub async fn price(&self, name: &str, amount: i64) -> String {
        let prod = self.post("/v1/products", &format!("name={name}")).await;
        let price = self
            .post(
                "/v1/prices",
                &format!(
                    "product={}&unit_amount={amount}&currency=usd&recurring[interval]=month",
                    prod["id"].as_str().expect("id")
                ),
            )
            .await;
        price["id"].as_str().expect("id").to_string()
    }

    pub async fn customer(&self, email: &str, card: Option<&str>) -> String {
        let c = self
            .post("/v1/customers", &format!("email={email}&name=Test"))
            .await;
        let id = c["id"].as_str().expect("id").to_string();
        if let Some(card) = card {
            let pm = self
                .post(
                    &format!("/v1/payment_methods/{card}/attach"),
                    &format!("customer={id}"),
                )
                .await;
            self.post(
                &format!("/v1/customers/{id}"),
                &format!(
                    "invoice_settings[default_payment_method]={}",
                    pm["id"].as_str().expect("id")
                ),
            )
            .await;
        }
        id
    }

    pub async fn subscribe(&self, customer: &str, price: &str, extra: &str) -> Value {
        self.post(
            "/v1/subscriptions",
            &format!("customer={customer}&items[0][price]={price}{extra}"),
        )
        .await
    }
}
