//! Progress and cancellation while a sync runs: a long step polls here, so that a cancel or
//! statement_timeout is noticed, and reports how far in the sync it is.

use pgrx::prelude::*;
use std::time::Instant;

thread_local! {
    /// When the running sync started: progress messages say how far in they are.
    static SYNC_START: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// Starts the clock that progress messages of `poll` report.
pub(crate) fn start_clock() {
    SYNC_START.with(|s| s.set(Some(Instant::now())));
}

/// Lets a blocked fetch notice a cancel or statement_timeout, and reports progress at
/// DEBUG1 (`SET client_min_messages = debug1` shows it): a sync says one NOTICE, its summary.
pub fn poll(message: &str) {
    if !message.is_empty() {
        debug1!("openrouter: {message} [{} ms]", elapsed_ms());
    }
    pgrx::pg_sys::check_for_interrupts!();
}

/// The one NOTICE of a sync: what it did.
pub fn summary(message: &str) {
    notice!("openrouter: {message}");
}

fn elapsed_ms() -> u128 {
    SYNC_START.with(|s| s.get().map(|t| t.elapsed().as_millis()).unwrap_or(0))
}
