//! Stopping `run` and `load` cleanly on SIGINT (Ctrl-C) or SIGTERM (what CI cancel,
//! `timeout` and Kubernetes send).
//!
//! [`Cancel::install`] takes over both signals for the life of the process. The first one
//! resolves [`Cancel::signalled`]: the command stops sending, writes every report it was asked
//! for (marked interrupted) and exits with [`super::Exit::Interrupted`] (130). A second signal
//! exits at once with the same code, without writing anything more.

use std::future::Future;

use tokio::sync::watch;

use super::Exit;

/// The first stop signal, once one has arrived.
#[derive(Debug, Clone)]
pub(crate) struct Cancel {
    first: watch::Receiver<Option<&'static str>>,
}

impl Cancel {
    /// Starts listening for SIGINT and SIGTERM (Ctrl-C only where there is no SIGTERM). Must
    /// be called inside a Tokio runtime; call it before the run starts, so that a signal during
    /// setup is caught too.
    pub(crate) fn install() -> Self {
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            let Some(first) = next_signal().await else {
                return;
            };
            eprintln!(
                "\n{first}: stopping; writing the reports for what ran (a second signal exits at once)"
            );
            let _ = tx.send(Some(first));
            if let Some(second) = next_signal().await {
                eprintln!("{second} again: exiting at once");
                std::process::exit(Exit::Interrupted as i32);
            }
        });
        Self { first: rx }
    }

    /// Resolves with the signal's name (`SIGINT`, `SIGTERM`) once the first one arrives.
    pub(crate) fn signalled(&self) -> impl Future<Output = &'static str> + Send + 'static {
        let mut rx = self.first.clone();
        async move {
            loop {
                if let Some(name) = *rx.borrow_and_update() {
                    return name;
                }
                if rx.changed().await.is_err() {
                    // The listener could not be installed: never resolve.
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

/// Waits for the next SIGINT or SIGTERM; `None` if they cannot be listened to.
#[cfg(unix)]
async fn next_signal() -> Option<&'static str> {
    use std::sync::OnceLock;

    use tokio::signal::unix::{Signal, SignalKind, signal};
    use tokio::sync::Mutex;

    // The streams live for the whole process, so a signal between two waits is not lost.
    static STREAMS: OnceLock<Option<Mutex<(Signal, Signal)>>> = OnceLock::new();
    let streams = STREAMS.get_or_init(|| {
        let int = signal(SignalKind::interrupt()).ok()?;
        let term = signal(SignalKind::terminate()).ok()?;
        Some(Mutex::new((int, term)))
    });
    let mut guard = streams.as_ref()?.lock().await;
    let (int, term) = &mut *guard;
    tokio::select! {
        _ = int.recv() => Some("SIGINT"),
        _ = term.recv() => Some("SIGTERM"),
    }
}

/// Waits for the next Ctrl-C; `None` if it cannot be listened to.
#[cfg(not(unix))]
async fn next_signal() -> Option<&'static str> {
    tokio::signal::ctrl_c().await.ok().map(|()| "Ctrl-C")
}
