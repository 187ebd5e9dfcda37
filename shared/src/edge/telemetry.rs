//! JSON logs (one line per event) for CloudWatch Logs Insights.
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

pub fn init() {
    let _ = subscriber(std::io::stdout).try_init();
}

/// The same subscriber writing elsewhere, so tests can read what would be logged.
pub fn subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(writer)
        .finish()
        .with(filter(std::env::var("RUST_LOG").ok().as_deref()))
}

/// `RUST_LOG` as `level` and `target=level` pairs (`info,stages=debug`); unset or not
/// understood: `info`.
fn filter(spec: Option<&str>) -> Targets {
    spec.and_then(|s| s.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

trait TryInit {
    fn try_init(self) -> Result<(), tracing::subscriber::SetGlobalDefaultError>;
}

impl<S: tracing::Subscriber + Send + Sync + 'static> TryInit for S {
    fn try_init(self) -> Result<(), tracing::subscriber::SetGlobalDefaultError> {
        tracing::subscriber::set_global_default(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn rust_log_sets_levels_per_target() {
        let f = filter(Some("info,stages=debug"));
        assert!(f.would_enable("stages", &Level::DEBUG));
        assert!(!f.would_enable("audit", &Level::DEBUG));
        assert!(f.would_enable("audit", &Level::INFO));
        let f = filter(None);
        assert!(f.would_enable("anything", &Level::INFO) && !f.would_enable("x", &Level::DEBUG));
    }
}
