//! Core logs (`tracing`, targets `signbridge*`) into Python `logging`, logger `signbridge` and
//! its children (`signbridge::transport` becomes `signbridge.transport`).
//!
//! Runtime threads never take the GIL to log: a tracing layer queues each record, and threads
//! that hold the GIL anyway hand the queue to Python (`signbridge._logging._deliver`): a call
//! when it starts, every 100 ms while it waits, and when it ends. No lock is held while Python
//! runs, so a logging handler cannot deadlock against the runtime. `_deliver` answers the
//! logger's effective level, so records nobody wants are not even formatted.
//!
//! The core never puts secrets in log messages; this layer adds nothing but the span fields
//! (provider, account, op, reference).

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

/// Records kept for Python at most; a host that never calls does not grow memory without bound.
const MAX_QUEUED: usize = 10_000;

/// Python's `logging.WARNING`, the effective level of an unconfigured logger.
const DEFAULT_THRESHOLD: u32 = 30;

/// The lowest Python level forwarded, as last reported by `_deliver`.
static THRESHOLD: AtomicU32 = AtomicU32::new(DEFAULT_THRESHOLD);

/// `(levelno, logger, message, created, file, line)`, the tuple `_deliver` takes.
type Entry = (u32, String, String, f64, Option<&'static str>, Option<u32>);

struct Queue {
    /// The process this queue belongs to.
    pid: u32,
    entries: Mutex<VecDeque<Entry>>,
    dropped: AtomicU64,
}

/// The queue of this process. A forked child gets a new one on first use: a runtime thread of
/// the parent may have held the old one's lock when the process forked, and in the child
/// nobody would ever release it. Queues are leaked, never freed (one per process).
static QUEUE: AtomicPtr<Queue> = AtomicPtr::new(std::ptr::null_mut());

fn queue() -> &'static Queue {
    let pid = std::process::id();
    loop {
        let current = QUEUE.load(Ordering::Acquire);
        // SAFETY: a non-null pointer stored in QUEUE is a leaked Box, valid forever.
        if let Some(queue) = unsafe { current.as_ref() }.filter(|q| q.pid == pid) {
            return queue;
        }
        let fresh = Box::into_raw(Box::new(Queue {
            pid,
            entries: Mutex::default(),
            dropped: AtomicU64::new(0),
        }));
        match QUEUE.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
            // SAFETY: `fresh` is now the stored, leaked queue.
            Ok(_) => return unsafe { &*fresh },
            // Another thread of this process installed one first: use that.
            // SAFETY: `fresh` was never shared.
            Err(_) => drop(unsafe { Box::from_raw(fresh) }),
        }
    }
}

/// Installs the forwarding layer as this module's global tracing subscriber.
pub fn install() {
    // Fails only if already installed (the module is initialised once per process).
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Forward));
}

fn python_level(level: &Level) -> u32 {
    match *level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

/// Hands queued records to Python logging and learns the level it wants. Errors in Python's
/// logging are reported as unraisable, never raised into the signbridge call that logged; but
/// a `KeyboardInterrupt` (a signal handler runs whenever Python code does) is returned.
pub fn deliver(py: Python<'_>) -> PyResult<()> {
    let q = queue();
    let mut entries: Vec<Entry> =
        q.entries.lock().unwrap_or_else(PoisonError::into_inner).drain(..).collect();
    let dropped = q.dropped.swap(0, Ordering::Relaxed);
    if dropped > 0 {
        let message = format!("{dropped} log records were dropped: the queue was full");
        entries.insert(0, (30, "signbridge".into(), message, now(), None, None));
    }
    let delivered = py
        .import("signbridge._logging")
        .and_then(|m| m.getattr("_deliver")?.call1((entries,))?.extract::<u32>());
    match delivered {
        Ok(level) => THRESHOLD.store(level, Ordering::Relaxed),
        Err(e) if e.is_instance_of::<PyException>(py) => e.write_unraisable(py, None),
        Err(e) => return Err(e),
    }
    Ok(())
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// The span fields, kept in the span's extensions.
struct SpanFields(String);

struct Forward;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Forward {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if metadata.target().starts_with("signbridge") {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        // Spans are always recorded, so a warning carries its operation's fields even when
        // debug logging (the level of the spans themselves) is off.
        metadata.is_span() || python_level(metadata.level()) >= THRESHOLD.load(Ordering::Relaxed)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields.text));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(text)) = extensions.get_mut::<SpanFields>() {
            let mut fields = Fields { text: std::mem::take(text), message: None };
            values.record(&mut fields);
            *text = fields.text;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut message = fields.message.unwrap_or_default();
        if !fields.text.is_empty() {
            let _ = write!(message, " {}", fields.text);
        }
        if let Some(scope) = ctx.event_scope(event) {
            let spans: Vec<String> = scope
                .from_root()
                .filter_map(|span| span.extensions().get::<SpanFields>().map(|f| f.0.clone()))
                .filter(|text| !text.is_empty())
                .collect();
            if !spans.is_empty() {
                let _ = write!(message, " [{}]", spans.join(" "));
            }
        }
        let entry = (
            python_level(metadata.level()),
            metadata.target().replace("::", "."),
            message,
            now(),
            metadata.file(),
            metadata.line(),
        );
        let q = queue();
        let mut entries = q.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() == MAX_QUEUED {
            entries.pop_front();
            q.dropped.fetch_add(1, Ordering::Relaxed);
        }
        entries.push_back(entry);
    }
}

/// `message` apart, fields as `key=value`, space-separated.
#[derive(Default)]
struct Fields {
    text: String,
    message: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = Some(format!("{value:?}"));
            return;
        }
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        let _ = write!(self.text, "{}={value:?}", field.name());
    }
}
