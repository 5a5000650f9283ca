//! LZ4 compression of jsonb bodies, byte for byte what PostgreSQL's toaster stores for a
//! column with `COMPRESSION lz4` (toast_compress_datum + lz4_compress_datum): the LZ4 block
//! of the body, kept only when it saves more than 2 bytes with its 8-byte header.
//!
//! Done on the mapping threads, so that the backend's thread only copies the compressed
//! document into the row (the toaster leaves an already compressed value as it is): in a
//! first load of 34,600 models, LZ4 was an eighth of that thread's time.
//!
//! The library is the process's own liblz4 (the one PostgreSQL is linked with), looked up
//! at run time: no build dependency, and where the server has none (or links it in
//! statically) nothing is compressed here; PostgreSQL then compresses as usual. No
//! Postgres API is used.

use std::ffi::{c_char, c_int, c_void};
use std::sync::OnceLock;

type CompressFn = unsafe extern "C" fn(*const c_char, *mut c_char, c_int, c_int) -> c_int;
type BoundFn = unsafe extern "C" fn(c_int) -> c_int;

struct Lib {
    compress: CompressFn,
    bound: BoundFn,
    /// The library (the tests look up its decompressor in it).
    #[cfg_attr(not(test), allow(dead_code))]
    handle: *mut c_void,
}

// SAFETY: the handle is only passed to dlsym; both functions are reentrant (LZ4 keeps its
// state on the caller's stack).
unsafe impl Send for Lib {}
unsafe impl Sync for Lib {}

fn lib() -> Option<&'static Lib> {
    static LIB: OnceLock<Option<Lib>> = OnceLock::new();
    LIB.get_or_init(|| {
        // SAFETY: dlopen/dlsym with NUL-terminated names; the symbols are cast to their C
        // prototypes from lz4.h (stable ABI since LZ4 1.7).
        unsafe {
            let name = c"liblz4.so.1".as_ptr();
            // The copy already in the process (PostgreSQL's); the unit tests, outside a
            // server, load the system's.
            let mut handle = libc::dlopen(name, libc::RTLD_NOW | libc::RTLD_NOLOAD);
            if handle.is_null() && cfg!(test) {
                handle = libc::dlopen(name, libc::RTLD_NOW | libc::RTLD_LOCAL);
            }
            if handle.is_null() {
                return None;
            }
            let compress = libc::dlsym(handle, c"LZ4_compress_default".as_ptr());
            let bound = libc::dlsym(handle, c"LZ4_compressBound".as_ptr());
            if compress.is_null() || bound.is_null() {
                return None;
            }
            Some(Lib {
                compress: std::mem::transmute::<*mut c_void, CompressFn>(compress),
                bound: std::mem::transmute::<*mut c_void, BoundFn>(bound),
                handle,
            })
        }
    })
    .as_ref()
}

/// Whether LZ4 is at hand in this process.
pub fn available() -> bool {
    lib().is_some()
}

/// Bytes of the header PostgreSQL puts before compressed data (va_header + va_tcinfo).
pub const HEADER: usize = 8;

/// The LZ4 block of `body` (a varlena's data, without its header), or `None` where
/// PostgreSQL would store it uncompressed: LZ4 missing, more than 1 GB, or a saving of 2
/// bytes or less once the 8-byte header is counted.
pub fn compress(body: &[u8]) -> Option<Vec<u8>> {
    let lib = lib()?;
    let len = c_int::try_from(body.len()).ok()?;
    if body.len() > 0x3fff_ffff {
        return None;
    }
    // SAFETY: `out` has room for LZ4_compressBound(len) bytes, the most LZ4 writes.
    unsafe {
        let cap = (lib.bound)(len);
        if cap <= 0 {
            return None;
        }
        let mut out: Vec<u8> = Vec::with_capacity(cap as usize);
        let n = (lib.compress)(
            body.as_ptr() as *const c_char,
            out.as_mut_ptr() as *mut c_char,
            len,
            cap,
        );
        if n <= 0 || n as usize > body.len() || n as usize + HEADER >= body.len().saturating_sub(2)
        {
            return None;
        }
        out.set_len(n as usize);
        out.shrink_to_fit();
        Some(out)
    }
}

/// The 8-byte header of a compressed inline varlena holding `compressed` bytes of LZ4 data
/// for a body of `raw` bytes: SET_VARSIZE_COMPRESSED and TOAST_COMPRESS_SET_SIZE_AND_COMPRESS_METHOD
/// (method 1, LZ4) of PostgreSQL 15, little-endian layout.
#[cfg(target_endian = "little")]
pub fn header(raw: usize, compressed: usize) -> [u8; HEADER] {
    const LZ4_METHOD: u32 = 1;
    let va_header = (((HEADER + compressed) as u32) << 2) | 0x02;
    let va_tcinfo = raw as u32 | (LZ4_METHOD << 30);
    let mut h = [0u8; HEADER];
    h[..4].copy_from_slice(&va_header.to_le_bytes());
    h[4..].copy_from_slice(&va_tcinfo.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decompress(block: &[u8], raw: usize) -> Vec<u8> {
        type DecompressFn = unsafe extern "C" fn(*const c_char, *mut c_char, c_int, c_int) -> c_int;
        let lib = lib().expect("liblz4.so.1 is installed (a dependency of PostgreSQL)");
        // SAFETY: as in `lib`; `out` has room for `raw` bytes, the most it may write.
        unsafe {
            let f = libc::dlsym(lib.handle, c"LZ4_decompress_safe".as_ptr());
            assert!(!f.is_null());
            let f = std::mem::transmute::<*mut c_void, DecompressFn>(f);
            let mut out = vec![0u8; raw];
            let n = f(
                block.as_ptr() as *const c_char,
                out.as_mut_ptr() as *mut c_char,
                block.len() as c_int,
                raw as c_int,
            );
            assert_eq!(n as usize, raw);
            out
        }
    }

    #[test]
    fn compresses_what_postgres_would_and_round_trips() {
        let body = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/openrouter/models-2026-03-10.json"
        ))
        .unwrap();
        let page = crate::models::parse_page(&body).unwrap();
        let (mut compressed, mut declined) = (0, 0);
        for raw in page.models.iter().map(|m| m.get()) {
            let jsonb = crate::pg::jsonb::encode(raw).unwrap();
            match compress(&jsonb) {
                Some(block) => {
                    assert!(block.len() + HEADER < jsonb.len() - 2);
                    assert_eq!(decompress(&block, jsonb.len()), jsonb);
                    compressed += 1;
                }
                None => declined += 1,
            }
        }
        // API objects of 1-4 kB of JSON: LZ4 saves on nearly all of them.
        assert!(compressed > 300, "{compressed} compressed, {declined} not");
        // Too short to save anything, and random bytes: stored as they are.
        assert_eq!(compress(b"{\"a\": 1}"), None);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        assert_eq!(compress(&noise), None);
        assert_eq!(
            header(2000, 700),
            [
                ((708 << 2) | 2) as u8,
                (708 >> 6) as u8,
                0,
                0,
                (2000 & 0xff) as u8,
                (2000 >> 8) as u8,
                0,
                0x40
            ]
        );
    }
}
