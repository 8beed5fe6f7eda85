//! Captures of what `tracing` records, for tests of logs and spans.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Everything the tracing subscriber it installs writes, at every level.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Captures this thread's TRACE logs until the guard is dropped.
    pub fn install() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = CapturedLogs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    /// The text written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One span as [`SpanCapture`] saw it.
#[derive(Clone, Debug)]
pub struct SpanRecord {
    /// The span's name.
    pub name: &'static str,
    /// Its parent: an index in [`SpanCapture::spans`].
    pub parent: Option<usize>,
    /// Its fields as they were last set (`Debug` text for non-strings).
    pub fields: BTreeMap<String, String>,
}

/// A layer that records every span: its name, its parent and its fields as
/// they are set.
#[derive(Clone, Default)]
pub struct SpanCapture {
    spans: Arc<Mutex<Vec<SpanRecord>>>,
    index: Arc<Mutex<HashMap<u64, usize>>>,
}

impl SpanCapture {
    /// The spans recorded so far, in the order they were created.
    pub fn spans(&self) -> Vec<SpanRecord> {
        self.spans.lock().unwrap().clone()
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for SpanCapture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let index = self.index.lock().unwrap();
        let parent = ctx
            .span(id)
            .and_then(|s| s.parent())
            .and_then(|p| index.get(&p.id().into_u64()).copied());
        drop(index);
        let mut spans = self.spans.lock().unwrap();
        spans.push(SpanRecord {
            name: attrs.metadata().name(),
            parent,
            fields,
        });
        self.index
            .lock()
            .unwrap()
            .insert(id.into_u64(), spans.len() - 1);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        if let Some(&i) = self.index.lock().unwrap().get(&id.into_u64()) {
            values.record(&mut Fields(&mut self.spans.lock().unwrap()[i].fields));
        }
    }
}
