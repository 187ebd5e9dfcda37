//! The wire protocol: form decoding, auth, errors, idempotency, expand, lists, faults.

mod common;

use std::time::{Duration, Instant};

use common::Emu;
use serde_json::json;

#[tokio::test]
async fn form_encodings_decode_alike() {
    let emu = Emu::start().await;
    let cus = emu
        .post(
            "/v1/customers",
            "email=a%2Bb%40x.com&name=Ada+L&metadata[tier]=gold&metadata%5Bseat%5D=3&address[city]=Paris",
        )
        .await;
    assert_eq!(cus["email"], "a+b@x.com");
    assert_eq!(cus["name"], "Ada L");
    assert_eq!(cus["metadata"], json!({"tier": "gold", "seat": "3"}));
    assert_eq!(cus["address"]["city"], "Paris");
    assert_eq!(cus["address"]["line1"], json!(null));
    let id = cus["id"].as_str().unwrap_or_default();
    // `[]`, indexed and percent-encoded arrays are the same array.
    for q in [
        "expand[]=subscriptions",
        "expand[0]=subscriptions",
        "expand%5B%5D=subscriptions",
    ] {
        let got = emu.get(&format!("/v1/customers/{id}?{q}")).await;
        assert_eq!(got["subscriptions"]["object"], "list", "{q}");
    }
    // Empty string unsets.
    let cleared = emu
        .post(&format!("/v1/customers/{id}"), "metadata[tier]=&name=")
        .await;
    assert_eq!(cleared["metadata"], json!({"seat": "3"}));
    assert_eq!(cleared["name"], json!(null));

    let (status, err) = emu.call("POST", "/v1/customers", "a=1&a[b]=2").await;
    assert_eq!(status, 400, "{err}");
    let (status, err) = emu.call("POST", "/v1/customers", "balance=abc").await;
    assert_eq!(
        (status, err["error"]["param"].clone()),
        (400, json!("balance"))
    );
}

#[tokio::test]
async fn errors_are_stripe_shaped() {
    let emu = Emu::start().await;
    let resp = emu.send("GET", "/v1/customers/cus_nope", "").await;
    assert_eq!(resp.status(), 404);
    let rid = resp
        .headers()
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(rid.starts_with("req_"));
    let body: serde_json::Value = resp.json().await.expect("json");
    let err = &body["error"];
    assert_eq!(err["type"], "invalid_request_error");
    assert_eq!(err["code"], "resource_missing");
    assert_eq!(err["message"], "No such customer: 'cus_nope'");
    assert_eq!(err["param"], "id");
    // Stripe names the request by its dashboard log, not in an id field of the error.
    assert!(err.get("request_id").is_none());
    assert!(
        err["request_log_url"]
            .as_str()
            .is_some_and(|u| u.ends_with(rid.as_str()))
    );
    assert!(err["doc_url"].as_str().is_some());

    let (status, body) = emu.call("POST", "/v1/customers", "emial=x").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "parameter_unknown");
    assert_eq!(
        body["error"]["message"],
        "Received unknown parameter: emial"
    );

    let (status, body) = emu.call("POST", "/v1/products", "").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("parameter_missing"))
    );

    let (status, _) = emu.call("GET", "/v1/nothing_here", "").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn stripe_version_is_echoed() {
    let emu = Emu::start().await;
    let resp = emu
        .http
        .get(format!("{}/v1/customers", emu.base))
        .bearer_auth(&emu.key)
        .header("stripe-version", "2026-10-28.endive")
        .send()
        .await
        .expect("reachable");
    assert_eq!(
        resp.headers()
            .get("stripe-version")
            .and_then(|v| v.to_str().ok()),
        Some("2026-10-28.endive")
    );
}

#[tokio::test]
async fn auth_rules() {
    let emu = Emu::start().await;
    let url = format!("{}/v1/customers", emu.base);
    let missing = emu.http.get(&url).send().await.expect("reachable");
    assert_eq!(missing.status(), 401);

    let bad_key = "sk_test_tooshort";
    let bad = emu
        .http
        .get(&url)
        .bearer_auth(bad_key)
        .send()
        .await
        .expect("reachable");
    assert_eq!(bad.status(), 401);
    let body: serde_json::Value = bad.json().await.expect("json");
    let msg = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("Invalid API Key provided: sk_test_****"),
        "{msg}"
    );
    assert!(!msg.contains(bad_key));

    // HTTP Basic with the key as username is the same account as Bearer.
    let cus = emu.post("/v1/customers", "email=basic@x.com").await;
    let basic = emu
        .http
        .get(format!("{url}/{}", cus["id"].as_str().unwrap_or_default()))
        .basic_auth(&emu.key, Some(""))
        .send()
        .await
        .expect("reachable");
    assert_eq!(basic.status(), 200);

    emu.control("POST", "keys/revoke", json!({"key": emu.key}))
        .await;
    let (status, body) = emu.call("GET", "/v1/customers", "").await;
    assert_eq!(status, 401);
    let msg = body["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.ends_with(&emu.key[emu.key.len() - 4..]) && !msg.contains(&emu.key));
}

#[tokio::test]
async fn accounts_are_isolated() {
    let emu = Emu::start().await;
    let other = emu.other();
    let cus = emu.post("/v1/customers", "email=mine@x.com").await;
    let id = cus["id"].as_str().unwrap_or_default();
    let (status, body) = other.call("GET", &format!("/v1/customers/{id}"), "").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("resource_missing"))
    );
    assert_eq!(other.get("/v1/customers").await["data"], json!([]));
}

#[tokio::test]
async fn idempotency_replays_and_rejects_mismatch() {
    let emu = Emu::start().await;
    let post = |key: &str, body: &str| {
        emu.http
            .post(format!("{}/v1/customers", emu.base))
            .bearer_auth(&emu.key)
            .header("idempotency-key", key)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_string())
            .send()
    };
    let first = post("k1", "email=i@x.com").await.expect("reachable");
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: serde_json::Value = first.json().await.expect("json");
    let again = post("k1", "email=i@x.com").await.expect("reachable");
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let again: serde_json::Value = again.json().await.expect("json");
    assert_eq!(first["id"], again["id"]);
    assert_eq!(
        emu.get("/v1/customers").await["data"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    let mismatch = post("k1", "email=other@x.com").await.expect("reachable");
    assert_eq!(mismatch.status(), 400);
    let body: serde_json::Value = mismatch.json().await.expect("json");
    assert_eq!(body["error"]["type"], "idempotency_error");

    let long = "k".repeat(256);
    assert_eq!(
        post(&long, "email=l@x.com")
            .await
            .expect("reachable")
            .status(),
        400
    );

    // Parameter errors are not kept (the key stays usable); other errors are replayed.
    assert_eq!(
        post("k2", "balance=nope")
            .await
            .expect("reachable")
            .status(),
        400
    );
    let fixed = post("k2", "balance=5").await.expect("reachable");
    assert_eq!(fixed.status(), 200);
    let missing = |key: &'static str| {
        emu.http
            .post(format!("{}/v1/customers/cus_nope", emu.base))
            .bearer_auth(&emu.key)
            .header("idempotency-key", key)
            .send()
    };
    assert_eq!(missing("k3").await.expect("reachable").status(), 404);
    let replay = missing("k3").await.expect("reachable");
    assert_eq!(replay.status(), 404);
    assert!(replay.headers().get("idempotent-replayed").is_some());
}

#[tokio::test]
async fn pagination_walks_newest_first() {
    let emu = Emu::start().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let c = emu.post("/v1/customers", &format!("name=c{i}")).await;
        ids.push(c["id"].as_str().unwrap_or_default().to_string());
    }
    ids.reverse();
    let page1 = emu.get("/v1/customers?limit=2").await;
    let got: Vec<&str> = page1["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(got, ids[..2].to_vec());
    assert_eq!(page1["has_more"], true);
    assert_eq!(page1["url"], "/v1/customers");
    let page3 = emu
        .get(&format!("/v1/customers?limit=2&starting_after={}", ids[3]))
        .await;
    assert_eq!(page3["data"][0]["id"], ids[4].as_str());
    assert_eq!(page3["has_more"], false);
    let back = emu
        .get(&format!("/v1/customers?limit=2&ending_before={}", ids[4]))
        .await;
    let got: Vec<&str> = back["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(got, ids[2..4].to_vec());
    assert_eq!(back["has_more"], true);

    for bad in ["limit=0", "limit=101", "limit=x"] {
        let (status, body) = emu.call("GET", &format!("/v1/customers?{bad}"), "").await;
        assert_eq!(
            (status, body["error"]["param"].clone()),
            (400, json!("limit")),
            "{bad}"
        );
    }
    // An id Stripe lacks in a parameter (here the cursor) is the request's fault: a 400
    // naming the parameter, as for any other parameter; only the URL's object is a 404.
    let (status, body) = emu
        .call("GET", "/v1/customers?starting_after=cus_unknown", "")
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "resource_missing");
    assert_eq!(body["error"]["param"], "starting_after");
}

#[tokio::test]
async fn search_and_email_filter() {
    let emu = Emu::start().await;
    emu.post("/v1/customers", "email=Jo%40X.com&metadata[plan]=pro")
        .await;
    emu.post("/v1/customers", "email=jo%40x.com").await;
    let exact = emu.get("/v1/customers?email=Jo%40X.com").await;
    assert_eq!(exact["data"].as_array().map(Vec::len), Some(1));
    let found = emu
        .get("/v1/customers/search?query=email%3A%27JO%40x.com%27")
        .await;
    assert_eq!(found["object"], "search_result");
    assert_eq!(found["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(found["next_page"], json!(null));
    let meta = emu
        .get("/v1/customers/search?query=metadata%5B%27plan%27%5D%3A%27pro%27")
        .await;
    assert_eq!(meta["data"].as_array().map(Vec::len), Some(1));
    let (status, _) = emu
        .call("GET", "/v1/customers/search?query=email%3Dnope", "")
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn expand_nested_and_depth_limit() {
    let emu = Emu::start().await;
    let price = emu.price("Growth", 4900).await;
    let cus = emu.customer("e@x.com", Some("pm_card_visa")).await;
    let sub = emu
        .subscribe(&cus, &price, "&expand[]=latest_invoice.payments&expand[]=customer.invoice_settings.default_payment_method")
        .await;
    assert_eq!(sub["latest_invoice"]["object"], "invoice");
    assert_eq!(
        sub["latest_invoice"]["payments"]["data"][0]["object"],
        "invoice_payment"
    );
    assert_eq!(
        sub["customer"]["invoice_settings"]["default_payment_method"]["card"]["last4"],
        "4242"
    );
    let id = sub["id"].as_str().unwrap_or_default();
    let deep = emu
        .get(&format!(
            "/v1/subscriptions/{id}?expand[]=items.data.price.product"
        ))
        .await;
    assert_eq!(
        deep["items"]["data"][0]["price"]["product"]["name"],
        "Growth"
    );
    let listed = emu
        .get("/v1/charges?expand[]=data.customer&expand[]=data.payment_intent")
        .await;
    assert_eq!(listed["data"][0]["customer"]["object"], "customer");
    assert_eq!(listed["data"][0]["payment_intent"]["status"], "succeeded");

    let (status, body) = emu
        .call(
            "GET",
            "/v1/subscriptions?expand[]=data.items.data.price.product",
            "",
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "You cannot expand more than 4 levels of a property. Property: data.items.data.price.product"
    );
    let (status, _) = emu
        .call(
            "GET",
            &format!("/v1/subscriptions/{id}?expand[]=status"),
            "",
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn faults_500_429_and_scoping() {
    let emu = Emu::start().await;
    let other = emu.other();
    emu.control(
        "POST",
        "faults",
        json!({"kind": "500", "count": 1, "key": emu.key}),
    )
    .await;
    let (status, _) = other.call("GET", "/v1/customers", "").await;
    assert_eq!(status, 200, "another key's fault must not fire");
    let (status, body) = emu.call("GET", "/v1/customers", "").await;
    assert_eq!(
        (status, body["error"]["type"].clone()),
        (500, json!("api_error"))
    );
    assert_eq!(emu.call("GET", "/v1/customers", "").await.0, 200);

    emu.control("POST", "faults", json!({"kind": "429", "count": 2}))
        .await;
    let resp = emu.send("GET", "/v1/customers", "").await;
    assert_eq!(resp.status(), 429);
    assert_eq!(
        resp.headers()
            .get("stripe-should-retry")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    emu.control("DELETE", "faults", json!({})).await;
    assert_eq!(emu.call("GET", "/v1/customers", "").await.0, 200);

    let log = emu
        .control("GET", &format!("requests?key={}", emu.key), json!({}))
        .await;
    let statuses: Vec<i64> = log["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["status"].as_i64())
        .collect();
    assert_eq!(statuses, vec![500, 200, 429, 200]);
    assert_eq!(log["count"], 4);
    emu.control("DELETE", &format!("requests?key={}", emu.key), json!({}))
        .await;
    let log = emu
        .control("GET", &format!("requests?key={}", emu.key), json!({}))
        .await;
    assert_eq!(log["count"], 0);
}

#[tokio::test]
async fn reset_fault_drops_the_connection() {
    let emu = Emu::start().await;
    emu.control("POST", "faults", json!({"kind": "reset", "count": 1}))
        .await;
    let result = emu
        .http
        .get(format!("{}/v1/customers", emu.base))
        .bearer_auth(&emu.key)
        .send()
        .await;
    let err = result.expect_err("no HTTP response at all");
    assert!(!err.is_status(), "{err:?}");
    // The server keeps serving afterwards.
    assert_eq!(emu.call("GET", "/v1/customers", "").await.0, 200);
}

#[tokio::test]
async fn hang_fault_and_latency() {
    let emu = Emu::start().await;
    emu.control(
        "POST",
        "faults",
        json!({"kind": "hang", "count": 1, "hang_ms": 300}),
    )
    .await;
    let started = Instant::now();
    let result = emu
        .http
        .get(format!("{}/v1/customers", emu.base))
        .bearer_auth(&emu.key)
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(result.is_err());
    assert!(started.elapsed() >= Duration::from_millis(300));

    emu.control("POST", "latency", json!({"ms": 200, "key": emu.key}))
        .await;
    let started = Instant::now();
    assert_eq!(emu.call("GET", "/v1/customers", "").await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
    let other = emu.other();
    let started = Instant::now();
    other.call("GET", "/v1/customers", "").await;
    assert!(started.elapsed() < Duration::from_millis(200));
    emu.control("POST", "latency", json!({"ms": 0, "key": emu.key}))
        .await;
}

#[tokio::test]
async fn reset_drops_everything() {
    let emu = Emu::start().await;
    let cus = emu.post("/v1/customers", "email=r@x.com").await;
    emu.advance(1000).await;
    emu.control("POST", "reset", json!({})).await;
    let clock = emu.control("GET", "clock", json!({})).await;
    assert_eq!(clock["offset"], 0);
    let id = cus["id"].as_str().unwrap_or_default();
    assert_eq!(
        emu.call("GET", &format!("/v1/customers/{id}"), "").await.0,
        404
    );
}

#[tokio::test]
async fn reset_can_start_the_clock_in_the_past() {
    let emu = Emu::start().await;
    let real = emu.control("GET", "clock", json!({})).await["now"]
        .as_i64()
        .unwrap_or_default();
    emu.control("POST", "reset", json!({"offset": -30 * 86_400}))
        .await;
    let cus = emu.post("/v1/customers", "email=past@x.com").await;
    let created = cus["created"].as_i64().unwrap_or_default();
    assert!((real - 30 * 86_400 - created).abs() < 5, "{real} {created}");
}

#[tokio::test]
async fn request_total_counts_past_the_capped_log() {
    let emu = Emu::start().await;
    let log_limit = stripe_emulator::REQUEST_LOG_LIMIT;
    for _ in 0..log_limit + 5 {
        emu.call("GET", "/v1/customers", "").await;
    }
    let path = format!("requests?key={}", emu.key);
    let log = emu.control("GET", &path, json!({})).await;
    assert_eq!(log["count"], log_limit);
    assert_eq!(log["total"], log_limit + 5);
    emu.control("DELETE", &path, json!({})).await;
    assert_eq!(emu.control("GET", &path, json!({})).await["total"], 0);
}

#[tokio::test]
async fn deleted_customer_is_a_tombstone() {
    let emu = Emu::start().await;
    let cus = emu.post("/v1/customers", "email=d@x.com").await;
    let id = cus["id"].as_str().unwrap_or_default();
    let deleted = emu.ok("DELETE", &format!("/v1/customers/{id}"), "").await;
    assert_eq!(
        deleted,
        json!({"id": id, "object": "customer", "deleted": true})
    );
    assert_eq!(
        emu.get(&format!("/v1/customers/{id}")).await["deleted"],
        true
    );
    assert_eq!(emu.get("/v1/customers").await["data"], json!([]));
}

#[tokio::test]
async fn only_expandable_fields_expand() {
    let emu = Emu::start().await;
    let price = emu.price("Growth", 4900).await;
    let cus = emu.customer("x@x.com", Some("pm_card_visa")).await;
    let sub = emu.subscribe(&cus, &price, "").await;
    let id = sub["id"].as_str().unwrap_or_default();
    for field in ["status", "description", "items", "cancellation_details"] {
        let (status, body) = emu
            .call(
                "GET",
                &format!("/v1/subscriptions/{id}?expand[]={field}"),
                "",
            )
            .await;
        assert_eq!(status, 400, "{field}");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(
            body["error"]["message"],
            format!("This property cannot be expanded ({field}).")
        );
    }
    // Expandable fields expand even where nothing is set, and through embedded objects.
    let ok = emu
        .get(&format!(
            "/v1/subscriptions/{id}?expand[]=schedule&expand[]=latest_invoice.parent.subscription_details.subscription"
        ))
        .await;
    assert_eq!(ok["schedule"], json!(null));
    assert_eq!(
        ok["latest_invoice"]["parent"]["subscription_details"]["subscription"]["id"],
        id
    );
    let inv = ok["latest_invoice"]["id"].as_str().unwrap_or_default();
    let lines = emu
        .get(&format!(
            "/v1/invoices/{inv}/lines?expand[]=data.pricing.price_details.price"
        ))
        .await;
    assert_eq!(
        lines["data"][0]["pricing"]["price_details"]["price"]["object"],
        "price"
    );
    let charges = emu
        .get("/v1/charges?expand[]=data.balance_transaction")
        .await;
    let txn = &charges["data"][0]["balance_transaction"];
    assert_eq!(txn["object"], "balance_transaction");
    assert_eq!(txn["balance_type"], "payments");
}

#[tokio::test]
async fn search_pages_with_next_page() {
    let emu = Emu::start().await;
    for i in 0..5 {
        emu.post("/v1/customers", &format!("email=p{i}%40page.com"))
            .await;
    }
    let q = "query=email~%27page.com%27&limit=2";
    let mut seen = Vec::new();
    let mut page = emu.get(&format!("/v1/customers/search?{q}")).await;
    loop {
        for c in page["data"].as_array().into_iter().flatten() {
            seen.push(c["id"].as_str().unwrap_or_default().to_string());
        }
        if page["has_more"] != true {
            assert_eq!(page["next_page"], json!(null));
            break;
        }
        let token = page["next_page"].as_str().unwrap_or_default().to_string();
        assert!(!token.is_empty());
        page = emu
            .get(&format!("/v1/customers/search?{q}&page={token}"))
            .await;
    }
    assert_eq!(seen.len(), 5);
    seen.dedup();
    assert_eq!(seen.len(), 5);
    let (status, body) = emu
        .call("GET", &format!("/v1/customers/search?{q}&page=bogus"), "")
        .await;
    assert_eq!(
        (status, body["error"]["param"].clone()),
        (400, json!("page"))
    );
}

#[tokio::test]
async fn unknown_stripe_version_format_is_400() {
    let emu = Emu::start().await;
    let resp = emu
        .http
        .get(format!("{}/v1/customers", emu.base))
        .bearer_auth(&emu.key)
        .header("stripe-version", "latest")
        .send()
        .await
        .expect("reachable");
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(
        body["error"]["message"],
        "Invalid Stripe API version: latest"
    );
}

#[tokio::test]
async fn concurrent_reuse_of_an_idempotency_key_is_409() {
    let emu = Emu::start().await;
    emu.control("POST", "latency", json!({"ms": 400, "key": emu.key}))
        .await;
    let post = || {
        emu.http
            .post(format!("{}/v1/customers", emu.base))
            .bearer_auth(&emu.key)
            .header("idempotency-key", "same-key")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("email=c@x.com")
            .send()
    };
    let first = post();
    let second = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        post().await
    };
    let (first, second) = tokio::join!(first, second);
    let (first, second) = (first.expect("reachable"), second.expect("reachable"));
    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 409);
    let body: serde_json::Value = second.json().await.expect("json");
    assert_eq!(body["error"]["type"], "idempotency_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("There is currently another in-progress request"))
    );
    // Once the first is done the key replays it.
    let again = post().await.expect("reachable");
    assert_eq!(again.status(), 200);
    assert!(again.headers().get("idempotent-replayed").is_some());
    emu.control("POST", "latency", json!({"ms": 0, "key": emu.key}))
        .await;
}
