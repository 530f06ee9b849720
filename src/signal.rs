//! Process-wide cancellation: SIGINT (Ctrl-C) and SIGTERM (GitLab cancelling a job) set one flag that
//! every step can poll ([`is_cancelled`]) or await ([`cancelled`], [`or_cancel`]).
//!
//! How a step stops:
//! - **Outside a critical section** the process simply stops: `main_with_args` drops the running step
//!   at its next `await` (a build stream, a push, an HTTP poll, a retry sleep), prints what it stopped
//!   and exits 130 (SIGINT) or 143 (SIGTERM). Nothing half-done is left by such a step.
//! - **Inside a critical section** ([`critical`]) — e.g. deploy has set the last good container aside —
//!   the step itself sees the signal (its waits race [`cancelled`]), cleans up (rolls back), says what
//!   state it left, and returns; the process then exits 130/143. A second signal, or [`GRACE`] passing,
//!   stops the process anyway.
//!
//! A watchdog on a runtime worker thread ends the process [`WATCHDOG`] after it could stop, so a step
//! that is busy without awaiting (a CPU-bound scan) cannot keep a cancelled job alive.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;
use tokio::sync::watch;

/// How long a critical section may take to clean up after the first signal before stevedore stops
/// anyway (a container stop takes up to 30 s; GitLab waits a little longer before SIGKILL).
pub const GRACE: Duration = Duration::from_secs(60);

/// How long after it could stop the process is ended even if the running step never yields.
pub const WATCHDOG: Duration = Duration::from_secs(2);

/// The signals stevedore handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT: Ctrl-C in a terminal.
    Interrupt,
    /// SIGTERM: GitLab (or `docker stop`, `kill`) cancelling the job.
    Terminate,
}

impl Signal {
    /// The process exit status after this signal: 128 + the signal number (130, 143).
    pub fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    /// The signal's name, `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The shared state: the first signal, how many arrived, and which critical sections are open.
#[derive(Clone, Debug, Default)]
struct State {
    first: Option<Signal>,
    count: u32,
    critical: Vec<String>,
}

static STATE: LazyLock<watch::Sender<State>> =
    LazyLock::new(|| watch::Sender::new(State::default()));

/// The error a step returns when it stopped because of a signal. Its message says what it stopped;
/// the process exit code comes from the signal (see [`received`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled(pub Signal);

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stopped by {}", self.0)
    }
}

impl std::error::Error for Cancelled {}

/// Starts listening for SIGINT and SIGTERM on the current tokio runtime, and forgets any earlier
/// signal (one process may run several commands in tests). Call once per runtime, inside it.
pub fn install() {
    reset();
    use tokio::signal::unix::{SignalKind, signal};
    for (kind, sig) in [
        (SignalKind::interrupt(), Signal::Interrupt),
        (SignalKind::terminate(), Signal::Terminate),
    ] {
        match signal(kind) {
            Ok(mut stream) => {
                tokio::spawn(async move {
                    while stream.recv().await.is_some() {
                        raise(sig);
                    }
                });
            }
            Err(e) => tracing::warn!("cannot listen for {sig}: {e}"),
        }
    }
    tokio::spawn(async {
        let sig = abandoned().await;
        tokio::time::sleep(WATCHDOG).await;
        let open = open_critical();
        let state = if open.is_empty() {
            "no critical section was open, so nothing half-done is left behind".to_string()
        } else {
            format!("still open: {}", open.join("; "))
        };
        eprintln!(
            "stevedore: stopped by {sig} (exit {}): the running step was busy and is ended where it stood; {state}",
            sig.exit_code()
        );
        std::process::exit(sig.exit_code());
    });
}

/// Records a signal as if it had been received (what the listener calls; tests use it directly).
pub fn raise(sig: Signal) {
    STATE.send_modify(|s| {
        s.first.get_or_insert(sig);
        s.count += 1;
    });
}

/// Forgets received signals and open critical sections.
pub fn reset() {
    STATE.send_replace(State::default());
}

/// The first signal received, if any.
pub fn received() -> Option<Signal> {
    STATE.borrow().first
}

/// Whether a signal was received: the step should stop what it is doing.
pub fn is_cancelled() -> bool {
    received().is_some()
}

/// `Err(Cancelled)` once a signal was received: `signal::check()?` between two actions.
pub fn check() -> Result<(), Cancelled> {
    match received() {
        Some(s) => Err(Cancelled(s)),
        None => Ok(()),
    }
}

/// Resolves when a signal is received (at once if one already was). Race it against a wait with
/// `tokio::select!`, or use [`or_cancel`].
pub async fn cancelled() -> Signal {
    let mut rx = STATE.subscribe();
    let s = rx.wait_for(|s| s.first.is_some()).await.map(|s| s.first);
    // The sender is a static and never dropped; the fallback only satisfies the types.
    s.ok().flatten().unwrap_or(Signal::Terminate)
}

/// Runs `fut` unless a signal arrives first: `Err(Cancelled)` then, and `fut` is dropped.
pub async fn or_cancel<F: Future>(fut: F) -> Result<F::Output, Cancelled> {
    tokio::select! {
        biased;
        sig = cancelled() => Err(Cancelled(sig)),
        v = fut => Ok(v),
    }
}

/// Sleeps for `d` unless a signal arrives first (then `Err(Cancelled)` at once).
pub async fn sleep(d: Duration) -> Result<(), Cancelled> {
    or_cancel(tokio::time::sleep(d)).await
}

/// Marks a critical section (named by `what`, e.g. "deploy: acme's container is set aside") until the
/// guard drops: a signal then does not stop the process; the step must see it and clean up itself.
#[must_use = "the critical section ends when the guard drops"]
pub fn critical(what: impl Into<String>) -> Critical {
    let what = what.into();
    STATE.send_modify(|s| s.critical.push(what.clone()));
    Critical { what }
}

/// An open critical section; see [`critical`].
#[derive(Debug)]
pub struct Critical {
    what: String,
}

impl Drop for Critical {
    fn drop(&mut self) {
        let what = std::mem::take(&mut self.what);
        STATE.send_modify(|s| {
            if let Some(i) = s.critical.iter().position(|w| *w == what) {
                s.critical.remove(i);
            }
        });
    }
}

/// The critical sections open now.
pub fn open_critical() -> Vec<String> {
    STATE.borrow().critical.clone()
}

/// Resolves when the process may stop after a signal: a signal was received and no critical section
/// is open — or a second signal arrived, or [`GRACE`] passed since the first.
pub async fn abandoned() -> Signal {
    let sig = cancelled().await;
    let mut rx = STATE.subscribe();
    let settled = rx.wait_for(|s| s.critical.is_empty() || s.count > 1);
    let _ = tokio::time::timeout(GRACE, settled).await;
    sig
}

/// What to say when the process stops on `sig`: whether the step `returned` by itself (it saw the
/// signal and said above what it left) and which critical sections are still open.
pub fn stop_message(sig: Signal, command: &str, returned: bool, open: &[String]) -> String {
    let code = sig.exit_code();
    if !open.is_empty() {
        format!(
            "stopped by {sig} (exit {code}) before `{command}` could clean up — still open: {}",
            open.join("; ")
        )
    } else if returned {
        format!(
            "stopped by {sig} (exit {code}): `{command}` stopped and left a consistent state (see above)"
        )
    } else {
        format!(
            "stopped by {sig} (exit {code}): `{command}` was stopped where it stood; no step was in a critical section, so nothing half-done is left behind"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The state is process-wide: one test drives the whole sequence.
    #[tokio::test]
    async fn signals_cancel_waits_and_critical_sections_hold_the_process() {
        reset();
        assert!(!is_cancelled());
        assert!(check().is_ok());
        let guard = critical("deploy: acme set aside");
        assert_eq!(open_critical(), vec!["deploy: acme set aside".to_string()]);
        let waiting = tokio::spawn(sleep(Duration::from_secs(600)));
        let abandon = tokio::spawn(abandoned());
        tokio::time::sleep(Duration::from_millis(20)).await;
        raise(Signal::Terminate);
        let r = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the sleep ends promptly")
            .unwrap();
        assert_eq!(r, Err(Cancelled(Signal::Terminate)));
        assert_eq!(check(), Err(Cancelled(Signal::Terminate)));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !abandon.is_finished(),
            "a critical section holds the process"
        );
        drop(guard);
        let sig = tokio::time::timeout(Duration::from_secs(5), abandon)
            .await
            .expect("released once the critical section ends")
            .unwrap();
        assert_eq!(sig.exit_code(), 143);
        raise(Signal::Interrupt);
        assert_eq!(
            received(),
            Some(Signal::Terminate),
            "the first signal counts"
        );
        assert!(stop_message(sig, "deploy", false, &[]).contains("exit 143"));
        // A second signal releases the process even with a critical section open.
        reset();
        let _g = critical("x");
        raise(Signal::Interrupt);
        let abandon = tokio::spawn(abandoned());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!abandon.is_finished());
        raise(Signal::Interrupt);
        let sig = tokio::time::timeout(Duration::from_secs(5), abandon)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sig.exit_code(), 130);
        reset();
    }
}
