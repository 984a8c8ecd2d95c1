//! Signals while a reactor runs: SIGINT and SIGTERM as a clean `stop()`,
//! and the handlers added with `Reactor::add_signal_handler`.
//!
//! Signal handlers are process-wide, and a handler, once installed, stays
//! (signal-hook never uninstalls one). So that a signal no running reactor
//! listens for still has its default action (a process whose reactors are
//! not running dies on Ctrl-C, or on SIGHUP), each signal gets, before the
//! first reactor listens for it, a handler that emulates the default action,
//! armed whenever no running reactor listens for that signal. The one
//! exception is SIGPIPE, which the Rust runtime ignores: it gets no such
//! handler, and stays ignored while no reactor listens.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use mio::{Interest, Registry, Token};
use signal_hook::consts::{FORBIDDEN, SIGBUS, SIGKILL, SIGPIPE, SIGSTOP};
use signal_hook::low_level::signal_name;
use signal_hook_mio::v1_0::Signals;

use crate::error::{Error, Result};

/// Identifies a signal handler, for
/// [`remove_signal_handler`](crate::Reactor::remove_signal_handler).
///
/// ```
/// use tx0mq_reactor::signal::SIGHUP;
/// use tx0mq_reactor::{Reactor, SignalHandlerId};
///
/// let reactor = Reactor::builder().handle_signals(false).build()?;
/// let id: SignalHandlerId = reactor.add_signal_handler(SIGHUP, |_| ())?;
/// assert!(reactor.remove_signal_handler(id));
/// assert!(!reactor.remove_signal_handler(id));
/// # Ok::<(), tx0mq_reactor::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalHandlerId(pub(crate) u64);

/// Why `signal` cannot have a handler, or `None` if it can.
fn refusal(signal: i32) -> Option<&'static str> {
    if signal == SIGKILL || signal == SIGSTOP {
        Some("SIGKILL and SIGSTOP cannot be caught")
    } else if FORBIDDEN.contains(&signal) || signal == SIGBUS {
        Some(
            "SIGSEGV, SIGBUS, SIGFPE and SIGILL report a fault of the program itself, \
             which cannot wait for the reactor",
        )
    } else if signal_name(signal).is_none() {
        Some(
            "only the standard signals can have a handler (not real-time signals, \
             nor numbers that name no signal), because only theirs is a default action \
             the reactor can restore when no reactor listens",
        )
    } else {
        None
    }
}

/// `Ok` if `signal` can have a handler, else [`Error::ForbiddenSignal`].
pub(crate) fn check(signal: i32) -> Result<()> {
    match refusal(signal) {
        Some(_) => Err(Error::ForbiddenSignal(signal)),
        None => Ok(()),
    }
}

/// What [`Error::ForbiddenSignal`] says about `signal`: its name, and why.
pub(crate) fn describe_refusal(signal: i32) -> String {
    let name = signal_name(signal)
        .map(|name| format!(" ({name})"))
        .unwrap_or_default();
    let why = refusal(signal).unwrap_or("it is refused");
    format!("signal {signal}{name} cannot have a handler: {why}")
}

/// One signal's process-wide state.
struct Slot {
    /// How many running reactors listen for it.
    listeners: usize,
    /// Arms the handler that emulates the default action. `None` for
    /// SIGPIPE, which stays ignored, as the Rust runtime sets it.
    none_listening: Option<Arc<AtomicBool>>,
}

/// Every signal a reactor has listened for, by number.
static SLOTS: Mutex<BTreeMap<i32, Slot>> = Mutex::new(BTreeMap::new());

fn slots() -> MutexGuard<'static, BTreeMap<i32, Slot>> {
    SLOTS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Installs, once per process, the handler that emulates `signal`'s
/// default action, armed (nobody listens yet).
fn prepare(signal: i32) -> Result<()> {
    let mut slots = slots();
    if slots.contains_key(&signal) {
        return Ok(());
    }
    let none_listening = if signal == SIGPIPE {
        None
    } else {
        let flag = Arc::new(AtomicBool::new(true));
        signal_hook::flag::register_conditional_default(signal, flag.clone()).map_err(|e| {
            Error::io(
                format!("install the default-action handler for signal {signal}"),
                e,
            )
        })?;
        Some(flag)
    };
    slots.insert(
        signal,
        Slot {
            listeners: 0,
            none_listening,
        },
    );
    Ok(())
}

/// One more running reactor listens for `signal` (prepared): its default
/// action is off.
fn count(signal: i32) {
    if let Some(slot) = slots().get_mut(&signal) {
        slot.listeners += 1;
        if let Some(flag) = &slot.none_listening {
            flag.store(false, Ordering::SeqCst);
        }
    }
}

/// One reactor fewer listens for `signal`: with none left, its default
/// action is back.
fn uncount(signal: i32) {
    if let Some(slot) = slots().get_mut(&signal) {
        slot.listeners = slot.listeners.saturating_sub(1);
        if slot.listeners == 0 {
            if let Some(flag) = &slot.none_listening {
                flag.store(true, Ordering::SeqCst);
            }
        }
    }
}

/// The signals one running reactor listens for, delivered to its poll as
/// readiness of one token. Each counts as one listener of its signal until
/// [`unlisten`](Self::unlisten) or until the guard is dropped (or
/// uninstalled), however `run` ends.
pub(crate) struct SignalGuard {
    token: Token,
    /// The self-pipe, from the first signal listened for. signal-hook cannot
    /// take a signal out of it, so it may hold signals no longer listened
    /// for; [`drain`](Self::drain) drops those.
    pipe: Option<Signals>,
    /// The signals this guard counts as listened for.
    listening: Vec<i32>,
}

impl SignalGuard {
    /// A guard that listens for nothing yet, and has no pipe.
    pub(crate) fn new(token: Token) -> Self {
        SignalGuard {
            token,
            pipe: None,
            listening: Vec::new(),
        }
    }

    /// Starts delivering `signal` to the poll behind `registry`, as
    /// readiness of the guard's token (creating and registering the pipe on
    /// the first signal), and turns its default action off. Listening again
    /// for a signal does nothing.
    pub(crate) fn listen(&mut self, registry: &Registry, signal: i32) -> Result<()> {
        if self.listening.contains(&signal) {
            return Ok(());
        }
        check(signal)?;
        // The default-action handler first: a signal that arrives before
        // the count below still gets its default action.
        prepare(signal)?;
        let install = |e| Error::io(format!("install the handler for signal {signal}"), e);
        match self.pipe.as_mut() {
            Some(pipe) => pipe.add_signal(signal).map_err(install)?,
            None => {
                let mut pipe = Signals::new([signal]).map_err(install)?;
                registry
                    .register(&mut pipe, self.token, Interest::READABLE)
                    .map_err(|e| Error::io("register the signal pipe", e))?;
                self.pipe = Some(pipe);
            }
        }
        count(signal);
        self.listening.push(signal);
        Ok(())
    }

    /// Stops listening for `signal`: if no other running reactor listens
    /// for it, it has its default action again. Does nothing if the guard
    /// was not listening for it.
    pub(crate) fn unlisten(&mut self, signal: i32) {
        if let Some(index) = self.listening.iter().position(|&s| s == signal) {
            self.listening.remove(index);
            uncount(signal);
        }
    }

    /// The signals listened for that arrived since the last call, each
    /// once however often it arrived, in order of signal number.
    pub(crate) fn drain(&mut self) -> Vec<i32> {
        let Some(pipe) = self.pipe.as_mut() else {
            return Vec::new();
        };
        let listening = &self.listening;
        let mut arrived: Vec<i32> = pipe
            .pending()
            .inspect(|signal| log::debug!("signal {signal}"))
            .filter(|signal| listening.contains(signal))
            .collect();
        arrived.sort_unstable();
        arrived
    }

    /// Deregisters the signal pipe from the poll behind `registry`, then
    /// drops the guard.
    pub(crate) fn uninstall(mut self, registry: &Registry) {
        if let Some(pipe) = self.pipe.as_mut() {
            if let Err(e) = registry.deregister(pipe) {
                log::debug!("deregister the signal pipe: {e}");
            }
        }
    }
}

impl Drop for SignalGuard {
    /// Stops listening, then closes the pipe: each signal no other running
    /// reactor listens for has its default action again (a signal that
    /// arrives in between gets it already).
    fn drop(&mut self) {
        for signal in std::mem::take(&mut self.listening) {
            uncount(signal);
        }
        drop(self.pipe.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signal_hook::consts::{SIGFPE, SIGHUP, SIGILL, SIGINT, SIGSEGV, SIGUSR1};

    #[test]
    fn forbidden_and_unknown_signals_are_refused_and_the_others_accepted() {
        for signal in [
            SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, 0, -1, 34, 64, 65, 1000,
        ] {
            assert!(
                matches!(check(signal), Err(Error::ForbiddenSignal(s)) if s == signal),
                "signal {signal} was accepted"
            );
        }
        for signal in [SIGHUP, SIGINT, SIGUSR1, SIGPIPE] {
            assert!(check(signal).is_ok(), "signal {signal} was refused");
        }
    }

    #[test]
    fn the_refusal_names_the_signal_and_says_why() {
        let text = describe_refusal(SIGKILL);
        assert!(text.contains("signal 9 (SIGKILL)"), "{text}");
        assert!(text.contains("cannot be caught"), "{text}");
        let text = describe_refusal(SIGSEGV);
        assert!(
            text.contains("(SIGSEGV)") && text.contains("fault"),
            "{text}"
        );
        let text = describe_refusal(1000);
        assert!(text.starts_with("signal 1000 cannot"), "{text}");
        assert!(text.contains("real-time"), "{text}");
    }
}
