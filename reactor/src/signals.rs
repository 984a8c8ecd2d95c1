//! SIGINT and SIGTERM as a clean `stop()`, while a reactor runs.
//!
//! Signal handlers are process-wide, and a handler, once installed, stays.
//! So that a process whose reactors are not running still dies on Ctrl-C, a
//! handler that emulates the default action is installed once and armed
//! whenever no reactor is listening.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use mio::{Interest, Registry, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::error::{Error, Result};

/// How many reactors are listening, and the flag that arms the default action.
struct Listeners {
    count: Mutex<usize>,
    none_listening: Arc<AtomicBool>,
}

fn listeners() -> Result<&'static Listeners> {
    static LISTENERS: OnceLock<std::result::Result<Listeners, String>> = OnceLock::new();
    let listeners = LISTENERS.get_or_init(|| {
        let none_listening = Arc::new(AtomicBool::new(true));
        for signal in [SIGINT, SIGTERM] {
            signal_hook::flag::register_conditional_default(signal, none_listening.clone())
                .map_err(|e| format!("install the default handler for signal {signal}: {e}"))?;
        }
        Ok(Listeners {
            count: Mutex::new(0),
            none_listening,
        })
    });
    listeners
        .as_ref()
        .map_err(|msg| Error::io(msg.clone(), io::Error::other("signal set-up failed")))
}

/// Signal delivery for one running reactor, counted as one listener until
/// it is dropped (or uninstalled), however `run` ends.
pub(crate) struct SignalGuard {
    /// `None` once closed.
    signals: Mutex<Option<Signals>>,
    listeners: &'static Listeners,
}

impl SignalGuard {
    /// Starts delivering SIGINT and SIGTERM to the poll behind `registry`,
    /// as readiness of `token`.
    pub(crate) fn install(registry: &Registry, token: Token) -> Result<Self> {
        let listeners = listeners()?;
        let mut signals = Signals::new([SIGINT, SIGTERM])
            .map_err(|e| Error::io("install SIGINT/SIGTERM handlers", e))?;
        registry
            .register(&mut signals, token, Interest::READABLE)
            .map_err(|e| Error::io("register the signal pipe", e))?;
        let mut count = listeners.count.lock().unwrap_or_else(|p| p.into_inner());
        *count += 1;
        listeners.none_listening.store(false, Ordering::SeqCst);
        Ok(SignalGuard {
            signals: Mutex::new(Some(signals)),
            listeners,
        })
    }

    /// The last of the signals (SIGINT, SIGTERM) that arrived since the last call.
    pub(crate) fn drain(&self) -> Option<i32> {
        let mut signals = self.signals.lock().unwrap_or_else(|p| p.into_inner());
        let mut last = None;
        for signal in signals.iter_mut().flat_map(|s| s.pending()) {
            log::debug!("signal {signal}");
            last = Some(signal);
        }
        last
    }

    /// Deregisters the signal pipe from the poll behind `registry`, then
    /// drops the guard.
    pub(crate) fn uninstall(self, registry: &Registry) {
        let mut signals = self.signals.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(signals) = signals.as_mut() {
            if let Err(e) = registry.deregister(signals) {
                log::debug!("deregister the signal pipe: {e}");
            }
        }
    }
}

impl Drop for SignalGuard {
    /// Closes the signal pipe and stops listening: once no reactor listens,
    /// SIGINT and SIGTERM have their default action again.
    fn drop(&mut self) {
        let signals = self
            .signals
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        drop(signals);
        let mut count = self
            .listeners
            .count
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.listeners.none_listening.store(true, Ordering::SeqCst);
        }
    }
}
