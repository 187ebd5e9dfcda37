//! Functions a schedule runs (EventBridge Scheduler), not a route: the event carries
//! nothing they need; each run is a scan at the time it starts, and its report is the
//! answer (and one log line).
use std::future::Future;

use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde::Serialize;
use serde_json::Value;

use crate::pipeline::app::App;
use crate::timefmt::now_unix;

/// Runs `scan` once per invocation until the runtime stops the function.
pub async fn serve<F, Fut, R>(app: App, scan: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static App, i64) -> Fut + Send + Sync,
    Fut: Future<Output = R> + Send,
    R: Serialize,
{
    let app: &'static App = Box::leak(Box::new(app));
    let scan = &scan;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        let report = scan(app, now_unix()).await;
        Ok::<_, lambda_http::Error>(serde_json::to_value(report).unwrap_or_default())
    }))
    .await
}
