//! Logging: `RUST_LOG` picks what is written, `LOG_FORMAT` how.

use tracing_subscriber::EnvFilter;

use crate::LogFormat;

/// Installs the global subscriber, writing to standard output; a second call is a no-op.
pub fn init(format: LogFormat) {
    init_with(format, std::io::stdout);
}

/// [`init`], writing to standard error: for commands whose standard output is their result
/// (`shop export-products`).
pub fn init_on_stderr(format: LogFormat) {
    init_with(format, std::io::stderr);
}

fn init_with<W>(format: LogFormat, writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
