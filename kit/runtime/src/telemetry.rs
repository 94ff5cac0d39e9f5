//! Logging: one JSON object per line (`timestamp`, `level`, `service`,
//! `message`, `target`, the fields of every enclosing span, among them
//! `correlation_id`, then the event's own fields), or a human format with
//! `LOG_FORMAT=pretty`. `RUST_LOG` filters; without it, Lambda's
//! `AWS_LAMBDA_LOG_LEVEL` (the function's `LoggingConfig`) does; else `info`.

use std::io::Write;

use serde_json::{Map, Value};
use tracing::{
    field::{Field, Visit},
    Event, Subscriber,
};
use tracing_subscriber::{
    fmt::MakeWriter, layer::Context, layer::SubscriberExt, registry::LookupSpan,
    util::SubscriberInitExt, EnvFilter, Layer,
};

use crate::correlation;

/// Installs the global subscriber for `service`. Safe to call more than once
/// (later calls do nothing), which tests rely on.
pub fn init(service: &'static str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let lambda = std::env::var("AWS_LAMBDA_LOG_LEVEL").ok();
        EnvFilter::new(default_level(lambda.as_deref()))
    });
    let pretty = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("pretty"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if pretty {
        registry.with(tracing_subscriber::fmt::layer()).try_init()
    } else {
        registry
            .with(JsonLayer::new(service, std::io::stdout))
            .try_init()
    };
}

/// The filter when `RUST_LOG` is unset: Lambda's application log level
/// (`TRACE` .. `FATAL`, from the function's `LoggingConfig`) if given, else
/// `info`.
pub fn default_level(lambda_log_level: Option<&str>) -> &'static str {
    match lambda_log_level
        .map(|l| l.trim().to_ascii_uppercase())
        .as_deref()
    {
        Some("TRACE") => "trace",
        Some("DEBUG") => "debug",
        Some("WARN") => "warn",
        Some("ERROR") | Some("FATAL") => "error",
        _ => "info",
    }
}

/// Writes events as flat JSON lines.
pub struct JsonLayer<W> {
    service: &'static str,
    writer: W,
}

impl<W> JsonLayer<W> {
    pub fn new(service: &'static str, writer: W) -> Self {
        Self { service, writer }
    }
}

/// The recorded fields of a span, kept in its extensions.
struct SpanFields(Map<String, Value>);

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::from(format!("{value:?}")));
    }
}

impl<S, W> Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Map::new();
        attrs.record(&mut JsonVisitor(&mut fields));
        span.extensions_mut().insert(SpanFields(fields));
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(SpanFields(fields)) = ext.get_mut::<SpanFields>() {
            values.record(&mut JsonVisitor(fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::from(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        line.insert("level".into(), Value::from(meta.level().as_str()));
        line.insert("service".into(), Value::from(self.service));
        line.insert("target".into(), Value::from(meta.target()));
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>() {
                    for (k, v) in fields {
                        line.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        if !line.contains_key("correlation_id") {
            if let Some(id) = correlation::current() {
                line.insert("correlation_id".into(), Value::from(id.to_string()));
            }
        }
        let mut fields = Map::new();
        event.record(&mut JsonVisitor(&mut fields));
        let message = fields.remove("message").unwrap_or(Value::from(""));
        line.insert("message".into(), message);
        line.extend(fields);
        if let Ok(mut text) = serde_json::to_vec(&Value::Object(line)) {
            text.push(b'\n');
            let _ = self.writer.make_writer().write_all(&text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn lambdas_log_level_is_the_default_filter() {
        assert_eq!(default_level(None), "info");
        assert_eq!(default_level(Some("WARN")), "warn");
        assert_eq!(default_level(Some("debug")), "debug");
        assert_eq!(default_level(Some("FATAL")), "error");
        assert_eq!(default_level(Some("nonsense")), "info");
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn writes_flat_json_lines_with_span_fields() {
        let buf = Buf::default();
        let subscriber = tracing_subscriber::registry().with(JsonLayer::new("svc", buf.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", correlation_id = "req-001", route = "/x");
            let _g = span.enter();
            tracing::info!(order_id = 7, "order created");
        });
        let out = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf8");
        let line: Value = serde_json::from_str(out.trim()).expect("one JSON line");
        assert_eq!(line["service"], "svc");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "order created");
        assert_eq!(line["correlation_id"], "req-001");
        assert_eq!(line["route"], "/x");
        assert_eq!(line["order_id"], 7);
        assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
}
