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

/// Lets a blocked fetch notice a cancel or statement_timeout, and reports progress.
pub fn poll(message: &str) {
    if !message.is_empty() {
        let at = SYNC_START.with(|s| s.get().map(|t| t.elapsed().as_millis()).unwrap_or(0));
        notice!("openrouter: {message} [{at} ms]");
    }
    pgrx::pg_sys::check_for_interrupts!();
}
