//! Logs on stderr, through tracing: every file read, every value compared, every step run with
//! its duration. `-v` shows what is read and decided, `-vv` everything, GROUNDWORK_LOG takes
//! `target=level` directives (`GROUNDWORK_LOG=groundwork=trace,warn`). Under systemd
//! (JOURNAL_STREAM set) the events go to the journal with their fields as journal fields;
//! `--log-format json` writes JSON lines.

use super::args::LogFormat;
use std::cell::Cell;
use std::io::IsTerminal;
use std::sync::OnceLock;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_core::span::Current;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

pub fn init(verbose: u8, quiet: bool, format: LogFormat) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "groundwork=info,warn",
        (false, _) => "groundwork=debug,info",
    };
    // A bare level needs no directive parser: timers run drift at the default level every few
    // minutes. The directives are tracing's `Targets`, not its env-filter, whose regular
    // expressions brought thousands of pointers for the loader to fix up at every start.
    let bare = match level {
        "error" => Some(LevelFilter::ERROR),
        "warn" => Some(LevelFilter::WARN),
        _ => None,
    };
    let from_env = std::env::var_os("GROUNDWORK_LOG").and_then(|v| {
        v.into_string()
            .inspect_err(|v| {
                eprintln!(
                    "groundwork: GROUNDWORK_LOG={v:?} is ignored: it is not UTF-8 text; it takes target=level directives, such as groundwork=debug,warn"
                )
            })
            .ok()
    });
    let (targets, level_filter) = match (bare, from_env) {
        (Some(bare), None) => (None, Some(bare)),
        (_, from_env) => {
            let parsed = from_env.and_then(|directives| {
                directives
                    .parse::<Targets>()
                    .inspect_err(|e| {
                        eprintln!(
                            "groundwork: GROUNDWORK_LOG={directives:?} is ignored: {e}; it takes target=level directives, such as groundwork=debug,warn"
                        )
                    })
                    .ok()
            });
            let targets = parsed.unwrap_or_else(|| {
                level
                    .parse()
                    .expect("the built-in log levels are valid directives")
            });
            (Some(targets), None)
        }
    };
    let under_journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let build = move || subscriber(targets.clone(), level_filter, format, under_journal);
    let result = match level_filter {
        Some(max) => Lazy {
            max,
            build,
            built: OnceLock::new(),
        }
        .try_init(),
        None => build().try_init(),
    };
    let _ = result;
}

/// Tracing's registry under the filters, with the layer that writes `format`.
fn subscriber(
    targets: Option<Targets>,
    level: Option<LevelFilter>,
    format: LogFormat,
    under_journal: bool,
) -> Dispatch {
    let registry = tracing_subscriber::registry().with(targets).with(level);
    match format {
        LogFormat::Json => Dispatch::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            ),
        ),
        LogFormat::Text if under_journal => match tracing_journald::layer() {
            Ok(journald) => {
                Dispatch::new(registry.with(journald.with_syslog_identifier("groundwork".into())))
            }
            Err(_) => Dispatch::new(
                registry.with(
                    tracing_subscriber::fmt::layer()
                        .without_time()
                        .with_ansi(false)
                        .with_writer(std::io::stderr),
                ),
            ),
        },
        LogFormat::Text => Dispatch::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            ),
        ),
    }
}

/// The subscriber at a bare level (the default, and -q). Whether an event or span is wanted
/// depends on its level alone, so the real subscriber is built at the first one that is: its
/// registry sets up a span table for 4,096 threads, and most drift checks, run by a timer,
/// have nothing to warn about. Spans exist only once it is built, so before that there is
/// nothing to enter, clone or close.
struct Lazy<F> {
    max: LevelFilter,
    build: F,
    built: OnceLock<Dispatch>,
}

thread_local! {
    /// This thread is building the subscriber: what the build itself logs has nowhere to go
    /// (and building again from inside the build would never return).
    static BUILDING: Cell<bool> = const { Cell::new(false) };
}

/// The id of a span opened while the subscriber was being built: recorded nowhere.
const DETACHED: u64 = u64::MAX;

impl<F: Fn() -> Dispatch> Lazy<F> {
    fn inner(&self) -> Option<&Dispatch> {
        if let Some(built) = self.built.get() {
            return Some(built);
        }
        if BUILDING.get() {
            return None;
        }
        BUILDING.set(true);
        let built = self.built.get_or_init(&self.build);
        BUILDING.set(false);
        Some(built)
    }

    /// The built subscriber, for a span it made.
    fn owner(&self, span: &Id) -> Option<&Dispatch> {
        self.built.get().filter(|_| span.into_u64() != DETACHED)
    }
}

impl<F: Fn() -> Dispatch + Send + Sync + 'static> Subscriber for Lazy<F> {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.enabled(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max)
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        match self.inner() {
            Some(inner) => inner.new_span(span),
            None => Id::from_u64(DETACHED),
        }
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(inner) = self.owner(span) {
            inner.record(span, values)
        }
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        if let (Some(inner), Some(_)) = (self.owner(span), self.owner(follows)) {
            inner.record_follows_from(span, follows)
        }
    }

    fn event(&self, event: &Event<'_>) {
        // Through the built subscriber's Dispatch, which asks its layers' filters first.
        if let Some(inner) = self.inner() {
            inner.event(event)
        }
    }

    fn enter(&self, span: &Id) {
        if let Some(inner) = self.owner(span) {
            inner.enter(span)
        }
    }

    fn exit(&self, span: &Id) {
        if let Some(inner) = self.owner(span) {
            inner.exit(span)
        }
    }

    fn clone_span(&self, id: &Id) -> Id {
        match self.owner(id) {
            Some(inner) => inner.clone_span(id),
            None => id.clone(),
        }
    }

    fn try_close(&self, id: Id) -> bool {
        match self.owner(&id) {
            Some(inner) => inner.try_close(id),
            None => false,
        }
    }

    fn current_span(&self) -> Current {
        match self.built.get() {
            Some(inner) => inner.current_span(),
            None => Current::none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Below the level nothing is built; the first event at the level builds the subscriber,
    /// once, and reaches it.
    #[test]
    fn the_subscriber_is_built_at_the_first_wanted_event_only() {
        let builds = Arc::new(AtomicUsize::new(0));
        let events = Arc::new(AtomicUsize::new(0));
        let lazy = {
            let (builds, events) = (builds.clone(), events.clone());
            Lazy {
                max: LevelFilter::WARN,
                build: move || {
                    builds.fetch_add(1, Ordering::SeqCst);
                    Dispatch::new(Counter(events.clone()))
                },
                built: OnceLock::new(),
            }
        };
        tracing::subscriber::with_default(lazy, || {
            tracing::info!("not wanted");
            let span = tracing::info_span!("not wanted either");
            let _entered = span.enter();
            assert_eq!(builds.load(Ordering::SeqCst), 0);
            tracing::warn!("wanted");
            tracing::error!("wanted too");
        });
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        assert_eq!(events.load(Ordering::SeqCst), 2);
    }

    type Boxed = Lazy<Box<dyn Fn() -> Dispatch + Send + Sync>>;

    /// A build that logs (reaching the subscriber it is building) gets nowhere at once, where
    /// building again from inside the build would never return.
    #[test]
    fn the_build_reaching_back_returns_at_once() {
        let me: Arc<OnceLock<std::sync::Weak<Boxed>>> = Arc::new(OnceLock::new());
        let nowhere = Arc::new(AtomicUsize::new(0));
        let build = {
            let (me, nowhere) = (me.clone(), nowhere.clone());
            move || {
                let lazy = me.get().and_then(std::sync::Weak::upgrade).unwrap();
                if lazy.inner().is_none() {
                    nowhere.fetch_add(1, Ordering::SeqCst);
                }
                Dispatch::none()
            }
        };
        let lazy: Arc<Boxed> = Arc::new(Lazy {
            max: LevelFilter::WARN,
            build: Box::new(build),
            built: OnceLock::new(),
        });
        me.set(Arc::downgrade(&lazy)).unwrap();
        let (done, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let built = lazy.inner().is_some();
            let _ = done.send(built);
        });
        let built = wait
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("building from inside the build must not hang");
        assert!(built);
        assert_eq!(nowhere.load(Ordering::SeqCst), 1);
    }

    /// Counts the events it is given.
    struct Counter(Arc<AtomicUsize>);

    impl Subscriber for Counter {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}
