//! JSON logs (one line per event) for CloudWatch Logs Insights.
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

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
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(writer)
        .finish()
}

trait TryInit {
    fn try_init(self) -> Result<(), tracing::subscriber::SetGlobalDefaultError>;
}

impl<S: tracing::Subscriber + Send + Sync + 'static> TryInit for S {
    fn try_init(self) -> Result<(), tracing::subscriber::SetGlobalDefaultError> {
        tracing::subscriber::set_global_default(self)
    }
}
