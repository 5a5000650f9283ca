//! Giving memory back to the OS during a sync: whole free pages of the heap (malloc_trim),
//! and the pages of response bodies whose models are mapped (madvise).

/// Gives the whole free pages of this backend's heap back to the OS (glibc's malloc_trim):
/// at the points of a sync where much was freed, before the next phase touches more.
pub(crate) fn give_back_free_memory() {
    // SAFETY: plain glibc call, no pointers involved.
    unsafe { libc::malloc_trim(0) };
}

/// Whether this backend can still allocate `bytes` more (a block of that size is reserved
/// and freed at once, untouched: no page is used). Rust aborts the process when an
/// allocation fails, and PostgreSQL then restarts every session: a sync asks first, before
/// the phases whose many allocations grow with the input, and refuses with an ERROR.
pub(crate) fn has_headroom(bytes: usize) -> bool {
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(bytes).is_ok()
}

/// Gives the pages of large response bodies back to the OS as soon as every model on them
/// is mapped: at 100x the body (47 MB) was half of the backend's private memory when its
/// memory peaked, at the end of the mapping. Parts are received in API order, and models
/// lie in the bodies in that order, so everything before the end of the last model of a
/// received part is read for good.
pub(crate) struct BodyPages {
    /// Per body: where the pages not given back yet begin (an offset into it; 0, or the start
    /// of a page).
    released: Vec<usize>,
    page: usize,
}

impl BodyPages {
    /// Bodies smaller than this are left alone (a syscall would cost more than it frees).
    const LARGE: usize = 4 << 20;

    pub(crate) fn new(bodies: &[String]) -> Self {
        // SAFETY: plain libc call.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(0);
        BodyPages {
            released: vec![0; bodies.len()],
            page,
        }
    }

    /// Every model of `bodies` up to `end` in body `body` (and in every body before it) is
    /// mapped: give their whole pages back.
    ///
    /// # Safety
    /// The pages given back read as zeros afterwards, under whatever `&str` still points into
    /// them: the caller promises that no slice of `bodies` before `end` (of body `body`, or
    /// of any earlier body) is read again. The sync keeps that promise: the models there are
    /// mapped (their rows own their data), and the workers read only later parts.
    pub(crate) unsafe fn done_upto(&mut self, bodies: &[String], body: usize, end: usize) {
        if !self.page.is_power_of_two() {
            return;
        }
        for (b, text) in bodies.iter().enumerate().take(body + 1) {
            let upto = if b == body { end } else { text.len() };
            if text.len() < Self::LARGE || upto <= self.released[b] {
                continue;
            }
            let base = text.as_ptr() as usize;
            let from = (base + self.released[b]).next_multiple_of(self.page);
            let to = (base + upto) & !(self.page - 1);
            if to > from {
                // SAFETY: [from, to) lies inside this body's allocation, which stays mapped
                // until it is freed; MADV_DONTNEED only replaces its pages with zero pages on
                // the next touch. Nothing reads these bytes again: the models on them are
                // mapped (the mapped rows own their data) and the workers read only later
                // parts, which begin after `upto`; zero bytes are valid UTF-8 anyway.
                unsafe {
                    libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_DONTNEED);
                }
                // The page holding `upto` goes with a later call.
                self.released[b] = to - base;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::BodyPages;

    #[test]
    fn headroom_is_asked_not_taken() {
        assert!(super::has_headroom(64 << 20));
        assert!(!super::has_headroom(1 << 60));
    }

    /// Whole pages before the end of what is mapped read as zeros afterwards (given back);
    /// the page holding that end, everything after it, and small bodies are untouched.
    #[test]
    fn mapped_body_pages_are_given_back_and_no_more() {
        let pattern = |i: usize| b"0123456789abcdef"[i % 16];
        let body: String = (0..(6 << 20)).map(|i| pattern(i) as char).collect();
        let small = "x".repeat(BodyPages::LARGE - 1);
        let bodies = vec![small, body];
        let mut pages = BodyPages::new(&bodies);
        let page = pages.page;
        assert!(page.is_power_of_two(), "page size {page}");
        let base = bodies[1].as_ptr() as usize;
        let kept = |from: usize, to: usize| {
            bodies[1].as_bytes()[from..to]
                .iter()
                .enumerate()
                .all(|(i, &c)| c == pattern(from + i))
        };
        let zeroed =
            |from: usize, to: usize| bodies[1].as_bytes()[from..to].iter().all(|&c| c == 0);
        let aligned_up = |end: usize| (base + end).next_multiple_of(page) - base;
        let aligned_down = |end: usize| ((base + end) & !(page - 1)) - base;

        let end = 3_000_001;
        // SAFETY: only this test's own reads follow, and they expect the zeros.
        unsafe { pages.done_upto(&bodies, 1, end) };
        let (from, to) = (aligned_up(0), aligned_down(end));
        assert!(to - from > 700 * 4096 / page * page, "{from}..{to}");
        assert!(kept(0, from) && zeroed(from, to) && kept(to, bodies[1].len()));
        // The small body before it is left alone.
        assert!(bodies[0].bytes().all(|c| c == b'x'));
        // An earlier end gives nothing back; a later one only the pages after the last.
        unsafe { pages.done_upto(&bodies, 1, 1000) };
        assert!(kept(to, bodies[1].len()));
        let end2 = 5_000_000;
        unsafe { pages.done_upto(&bodies, 1, end2) };
        let to2 = aligned_down(end2);
        assert!(zeroed(from, to2) && kept(to2, bodies[1].len()));
    }
}
