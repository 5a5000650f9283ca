//! JSON text to PostgreSQL 15's binary `jsonb`, in Rust, so that worker threads can build the
//! datums that `jsonb_in` would otherwise build in the backend.
//!
//! The output is byte-identical to what `jsonb_in` stores (checked against a real PostgreSQL
//! 15 cluster, see the tests): the `JsonbContainer` that follows the 4-byte varlena header.
//! It follows `jsonb_util.c` (`convertJsonbArray`, `convertJsonbObject`, `convertJsonbScalar`,
//! `uniqueifyJsonbObject`), `jsonapi.c` (what JSON is accepted, `\u` escapes) and `numeric.c`
//! (`numeric_in` via `set_var_from_str` and `make_result`).
//!
//! Layout reminders (all words in native byte order, i.e. little-endian on the platforms we run):
//! - a container is: padding to a 4-byte boundary (relative to the start of the datum), a header
//!   word (count | `JB_FARRAY` or `JB_FOBJECT`; a root scalar is a one-element array with
//!   `JB_FSCALAR`), one `JEntry` per element (objects: all keys, then all values), then the data;
//! - a `JEntry` holds type bits and the length of its data (padding included); every 32nd one
//!   (`JB_OFFSET_STRIDE`) holds the end offset instead, with `JENTRY_HAS_OFF`;
//! - object keys are sorted by length, then bytes; for duplicate keys the last value wins;
//! - a number is a `numeric` datum with its own 4-byte varlena header, int-aligned;
//! - booleans and null live in their `JEntry` only.
//!
//! Anything this encoder does not reproduce exactly returns [`Unsupported`], and so does invalid
//! JSON: the caller then sends the text to `jsonb_in`, which decides.
//!
//! Parsing is two passes over reusable buffers: the text is validated into a flat tape (strings
//! without escapes point into the input, de-escaped ones into an arena), then the tape is written
//! out in jsonb order. No allocation per value once the buffers have grown.

use std::cell::RefCell;
use std::fmt;

/// Why [`encode`] did not build a value: invalid JSON, or a case left to `jsonb_in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported(pub &'static str);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "jsonb encoder: {}", self.0)
    }
}

impl std::error::Error for Unsupported {}

impl Unsupported {
    /// jsonb_in raises for this input too (invalid JSON, `\u0000`, a lone surrogate, a
    /// number numeric cannot hold): sending it there only moves the error.
    pub fn jsonb_in_refuses(&self) -> bool {
        [INVALID, NUL, OUT_OF_RANGE].contains(self)
    }
}

// src/include/utils/jsonb.h
const JENTRY_OFFLENMASK: u32 = 0x0FFF_FFFF;
const JENTRY_TYPEMASK: u32 = 0x7000_0000;
const JENTRY_HAS_OFF: u32 = 0x8000_0000;
const JENTRY_ISNUMERIC: u32 = 0x1000_0000;
const JENTRY_ISBOOL_FALSE: u32 = 0x2000_0000;
const JENTRY_ISBOOL_TRUE: u32 = 0x3000_0000;
const JENTRY_ISNULL: u32 = 0x4000_0000;
const JENTRY_ISCONTAINER: u32 = 0x5000_0000;
const JB_FSCALAR: u32 = 0x1000_0000;
const JB_FOBJECT: u32 = 0x2000_0000;
const JB_FARRAY: u32 = 0x4000_0000;
const JB_OFFSET_STRIDE: usize = 32;

// src/include/utils/numeric.h / numeric.c
const NUMERIC_SHORT: u16 = 0x8000;
const NUMERIC_SHORT_SIGN_MASK: u16 = 0x2000;
const NUMERIC_SHORT_DSCALE_SHIFT: u16 = 7;
const NUMERIC_SHORT_DSCALE_MAX: i64 = 63;
const NUMERIC_SHORT_WEIGHT_SIGN_MASK: u16 = 0x0040;
const NUMERIC_SHORT_WEIGHT_MASK: u16 = 0x003F;
const NUMERIC_SHORT_WEIGHT_MAX: i64 = 63;
const NUMERIC_SHORT_WEIGHT_MIN: i64 = -64;
const NUMERIC_NEG: u16 = 0x4000;
const DEC_DIGITS: i64 = 4;

// Limits of this encoder (beyond them: Err, and jsonb_in decides).
/// Nesting depth of arrays/objects (PostgreSQL goes deeper; our data is ~4 levels).
const MAX_DEPTH: usize = 100;
/// Input size: keeps every count, offset and length far below jsonb's 28-bit fields.
const MAX_INPUT: usize = 16 << 20;

// Why jsonb_in would raise (`Unsupported::jsonb_in_refuses`); anything else is a limit of
// this encoder, where jsonb_in may well accept.
const INVALID: Unsupported = Unsupported("invalid JSON");
const NUL: Unsupported = Unsupported("\\u0000 cannot be stored in jsonb");
const OUT_OF_RANGE: Unsupported = Unsupported("a number out of numeric's range");
const DEEP: Unsupported = Unsupported("nesting deeper than 100");

/// One parsed value. Containers are followed by their children (objects: key, value, key, ...);
/// `end` is the tape index just past the last descendant.
#[derive(Clone, Copy)]
enum Node {
    Null,
    True,
    False,
    /// Bytes at `off` in the input, or at `off - input.len()` in the arena when escaped.
    Str {
        off: u32,
        len: u32,
    },
    /// Number text at `off` in the input (validated JSON number syntax).
    Num {
        off: u32,
        len: u32,
    },
    Array {
        count: u32,
        end: u32,
    },
    Object {
        count: u32,
        end: u32,
    },
}

/// An object member while sorting: key location (as in [`Node::Str`]), value's tape index,
/// position in the input (for "last duplicate wins").
#[derive(Clone, Copy)]
struct Pair {
    off: u32,
    len: u32,
    value: u32,
    order: u32,
}

/// Reusable buffers; one per thread is kept by [`encode_into`].
#[derive(Default)]
pub struct Encoder {
    tape: Vec<Node>,
    arena: Vec<u8>,
    pairs: Vec<Pair>,
}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// See [`encode_into`].
    pub fn encode_into(&mut self, json: &str, out: &mut Vec<u8>) -> Result<(), Unsupported> {
        if cfg!(target_endian = "big") {
            return Err(Unsupported("big-endian platform"));
        }
        if json.len() > MAX_INPUT {
            return Err(Unsupported("input larger than 16 MiB"));
        }
        let r = self
            .parse(json)
            .and_then(|()| self.emit(json.as_bytes(), out));
        // Also after a failed first pass: the buffers may have grown to the input's size.
        self.trim();
        r
    }

    /// Pass 1 only: Ok when the second pass would be, i.e. when [`Self::encode_into`] would.
    pub fn check(&mut self, json: &str) -> Result<(), Unsupported> {
        if json.len() > MAX_INPUT {
            return Err(Unsupported("input larger than 16 MiB"));
        }
        let r = self.parse(json);
        self.trim();
        r
    }

    /// Pass 1: validates `json` into the tape, every value checked, also those under
    /// duplicate keys that the second pass drops (jsonb_in checks them too).
    fn parse(&mut self, json: &str) -> Result<(), Unsupported> {
        self.tape.clear();
        self.arena.clear();
        self.pairs.clear();
        let s = json.as_bytes();
        let mut p = Parser {
            s,
            i: 0,
            tape: &mut self.tape,
            arena: &mut self.arena,
        };
        p.value(0)?;
        p.ws();
        if p.i != s.len() {
            return Err(INVALID);
        }
        Ok(())
    }

    /// Pass 2: the tape into `out`.
    fn emit(&mut self, s: &[u8], out: &mut Vec<u8>) -> Result<(), Unsupported> {
        let before = out.len();
        let mut e = Emitter {
            input: s,
            arena: &self.arena,
            tape: &self.tape,
            pairs: &mut self.pairs,
            out,
            base: before,
        };
        let r = e.root();
        if r.is_err() {
            out.truncate(before);
        }
        r
    }

    /// Do not keep huge buffers around after an unusually large value.
    fn trim(&mut self) {
        const KEEP: usize = 1 << 16;
        if self.tape.capacity() > KEEP {
            self.tape = Vec::new();
        }
        if self.arena.capacity() > KEEP * 16 {
            self.arena = Vec::new();
        }
        if self.pairs.capacity() > KEEP {
            self.pairs = Vec::new();
        }
    }
}

thread_local! {
    static ENCODER: RefCell<Encoder> = RefCell::new(Encoder::new());
}

/// Appends to `out` the jsonb value PostgreSQL 15's `jsonb_in` would build from `json`: the
/// bytes that follow the 4-byte varlena header. Alignment is relative to where this value starts
/// in `out` (the varlena header is 4 bytes, so put it before if you need one). On Err `out` is
/// left as it was.
pub fn encode_into(json: &str, out: &mut Vec<u8>) -> Result<(), Unsupported> {
    ENCODER.with(|e| match e.try_borrow_mut() {
        Ok(mut e) => e.encode_into(json, out),
        Err(_) => Encoder::new().encode_into(json, out),
    })
}

/// Why jsonb_in would refuse `json` (invalid JSON, `\u0000`, a lone surrogate, a number
/// numeric cannot hold), or why it is nested too deeply to be kept (deeper than 100 levels:
/// jsonb_in's recursion may hit max_stack_depth long before the input ends); None when
/// neither. Cheaper than encoding: the first pass only. For the mapping, which keeps such
/// a value as null rather than fail every sync on it.
pub fn unstorable(json: &str) -> Option<&'static str> {
    let r = ENCODER.with(|e| match e.try_borrow_mut() {
        Ok(mut e) => e.check(json),
        Err(_) => Encoder::new().check(json),
    });
    match r {
        Err(INVALID) => Some("invalid JSON for jsonb (a lone surrogate?)"),
        Err(e) if e.jsonb_in_refuses() || e == DEEP => Some(e.0),
        _ => None,
    }
}

/// The jsonb value PostgreSQL 15's jsonb_in would build from `json`, as the bytes that follow
/// the 4-byte varlena header (i.e. the JsonbContainer: root header word, JEntries, data).
/// Err for anything this encoder does not reproduce exactly (the caller then falls back to
/// sending text to jsonb_in), and for invalid JSON.
pub fn encode(json: &str) -> Result<Vec<u8>, Unsupported> {
    let mut out = Vec::with_capacity(json.len() + json.len() / 2 + 16);
    encode_into(json, &mut out)?;
    Ok(out)
}

/// A number in valid JSON syntax as (negative, integer digits, fraction digits, exponent);
/// the exponent saturates far beyond what numeric accepts.
fn number_parts(text: &[u8]) -> (bool, &[u8], &[u8], i64) {
    let (neg, t) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let int_len = t
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(t.len());
    let int = &t[..int_len];
    let mut rest = &t[int_len..];
    let mut frac: &[u8] = &[];
    if let Some((b'.', r)) = rest.split_first() {
        let n = r
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(r.len());
        frac = &r[..n];
        rest = &r[n..];
    }
    let mut exp: i64 = 0;
    if let Some((_, r)) = rest.split_first() {
        // [eE][+-]?digits
        let (eneg, digits) = match r.split_first() {
            Some((b'-', d)) => (true, d),
            Some((b'+', d)) => (false, d),
            _ => (false, r),
        };
        for &c in digits {
            exp = (exp * 10 + (c - b'0') as i64).min(1 << 40);
        }
        if eneg {
            exp = -exp;
        }
    }
    (neg, int, frac, exp)
}

// ---------------------------------------------------------------------------------------------
// Pass 1: validate (as src/common/jsonapi.c does) into the tape.

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    tape: &'a mut Vec<Node>,
    arena: &'a mut Vec<u8>,
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// First index at or after `i` holding `"`, `\` or a byte below 0x20; `s.len()` if none.
#[inline]
fn scan_string(s: &[u8], mut i: usize) -> usize {
    while i + 8 <= s.len() {
        let x = u64::from_le_bytes(s[i..i + 8].try_into().unwrap());
        let q = x ^ (LO * b'"' as u64);
        let b = x ^ (LO * b'\\' as u64);
        // Lowest set bit of each term is exact (borrows only cause false hits above a true one).
        let m = (q.wrapping_sub(LO) & !q)
            | (b.wrapping_sub(LO) & !b)
            | (x.wrapping_sub(LO * 0x20) & !x);
        let m = m & HI;
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < s.len() {
        let c = s[i];
        if c == b'"' || c == b'\\' || c < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}

#[inline]
fn hex4(s: &[u8], i: usize) -> Option<u32> {
    let h = s.get(i..i + 4)?;
    let mut v = 0u32;
    for &c in h {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = v << 4 | d as u32;
    }
    Some(v)
}

impl Parser<'_> {
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.s.get(self.i) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn value(&mut self, depth: usize) -> Result<(), Unsupported> {
        self.ws();
        match self.peek() {
            Some(b'"') => {
                let n = self.string()?;
                self.tape.push(n);
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b't') => self.literal(b"true", Node::True),
            Some(b'f') => self.literal(b"false", Node::False),
            Some(b'n') => self.literal(b"null", Node::Null),
            _ => Err(INVALID),
        }
    }

    fn literal(&mut self, word: &[u8], node: Node) -> Result<(), Unsupported> {
        // What follows is checked by the grammar: only whitespace, `,`, `]`, `}` or the end.
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            self.tape.push(node);
            Ok(())
        } else {
            Err(INVALID)
        }
    }

    fn number(&mut self) -> Result<(), Unsupported> {
        let s = self.s;
        let start = self.i;
        let mut i = start;
        if s[i] == b'-' {
            i += 1;
        }
        match s.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                i += 1;
                while matches!(s.get(i), Some(b'0'..=b'9')) {
                    i += 1;
                }
            }
            _ => return Err(INVALID),
        }
        if s.get(i) == Some(&b'.') {
            i += 1;
            if !matches!(s.get(i), Some(b'0'..=b'9')) {
                return Err(INVALID);
            }
            while matches!(s.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        if matches!(s.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(s.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !matches!(s.get(i), Some(b'0'..=b'9')) {
                return Err(INVALID);
            }
            while matches!(s.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        let (_, int, frac, exp) = number_parts(&s[start..i]);
        let first = int.iter().chain(frac).position(|&c| c != b'0');
        if !crate::decimal::numeric_accepts(int.len(), frac.len(), exp, first) {
            return Err(OUT_OF_RANGE);
        }
        self.i = i;
        self.tape.push(Node::Num {
            off: start as u32,
            len: (i - start) as u32,
        });
        Ok(())
    }

    /// At `"`: the string's node (key or value).
    fn string(&mut self) -> Result<Node, Unsupported> {
        let s = self.s;
        let start = self.i + 1;
        let mut j = scan_string(s, start);
        match s.get(j) {
            Some(b'"') => {
                self.i = j + 1;
                return Ok(Node::Str {
                    off: start as u32,
                    len: (j - start) as u32,
                });
            }
            Some(b'\\') => {}
            _ => return Err(INVALID), // raw control character (NUL included) or no closing quote
        }
        // Escapes: de-escape into the arena.
        let aoff = self.arena.len();
        self.arena.extend_from_slice(&s[start..j]);
        loop {
            // s[j] == '\\'
            let c = *s.get(j + 1).ok_or(INVALID)?;
            j += 2;
            let simple = match c {
                b'"' => Some(b'"'),
                b'\\' => Some(b'\\'),
                b'/' => Some(b'/'),
                b'b' => Some(0x08),
                b'f' => Some(0x0C),
                b'n' => Some(b'\n'),
                b'r' => Some(b'\r'),
                b't' => Some(b'\t'),
                b'u' => None,
                _ => return Err(INVALID),
            };
            if let Some(byte) = simple {
                self.arena.push(byte);
            } else {
                let mut cp = hex4(s, j).ok_or(INVALID)?;
                j += 4;
                if (0xD800..=0xDBFF).contains(&cp) {
                    // A high surrogate must be followed at once by a low one.
                    if s.get(j..j + 2) != Some(b"\\u") {
                        return Err(INVALID);
                    }
                    let lo = hex4(s, j + 2).ok_or(INVALID)?;
                    if !(0xDC00..=0xDFFF).contains(&lo) {
                        return Err(INVALID);
                    }
                    j += 6;
                    cp = 0x10000 + ((cp & 0x3FF) << 10) + (lo & 0x3FF);
                } else if (0xDC00..=0xDFFF).contains(&cp) {
                    return Err(INVALID);
                }
                if cp == 0 {
                    return Err(NUL);
                }
                let ch = char::from_u32(cp).ok_or(INVALID)?;
                let mut buf = [0u8; 4];
                self.arena
                    .extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            let k = scan_string(s, j);
            self.arena.extend_from_slice(&s[j..k]);
            j = k;
            match s.get(j) {
                Some(b'"') => break,
                Some(b'\\') => {}
                _ => return Err(INVALID),
            }
        }
        self.i = j + 1;
        Ok(Node::Str {
            off: (s.len() + aoff) as u32,
            len: (self.arena.len() - aoff) as u32,
        })
    }

    fn array(&mut self, depth: usize) -> Result<(), Unsupported> {
        if depth > MAX_DEPTH {
            return Err(DEEP);
        }
        self.i += 1;
        let at = self.tape.len();
        self.tape.push(Node::Null);
        let mut count = 0u32;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
        } else {
            loop {
                self.value(depth)?;
                count += 1;
                self.ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b']') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(INVALID),
                }
            }
        }
        self.tape[at] = Node::Array {
            count,
            end: self.tape.len() as u32,
        };
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Result<(), Unsupported> {
        if depth > MAX_DEPTH {
            return Err(DEEP);
        }
        self.i += 1;
        let at = self.tape.len();
        self.tape.push(Node::Null);
        let mut count = 0u32;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                self.ws();
                if self.peek() != Some(b'"') {
                    return Err(INVALID);
                }
                let key = self.string()?;
                self.tape.push(key);
                self.ws();
                if self.peek() != Some(b':') {
                    return Err(INVALID);
                }
                self.i += 1;
                self.value(depth)?;
                count += 1;
                self.ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b'}') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(INVALID),
                }
            }
        }
        self.tape[at] = Node::Object {
            count,
            end: self.tape.len() as u32,
        };
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Pass 2: write the tape as jsonb_util.c's convertJsonbValue would.

struct Emitter<'a> {
    input: &'a [u8],
    arena: &'a [u8],
    tape: &'a [Node],
    pairs: &'a mut Vec<Pair>,
    out: &'a mut Vec<u8>,
    /// Where this datum starts in `out`: alignment is relative to it.
    base: usize,
}

const TOO_BIG: Unsupported = Unsupported("jsonb container larger than 256 MiB");

#[inline]
fn key_bytes<'b>(input: &'b [u8], arena: &'b [u8], off: u32, len: u32) -> &'b [u8] {
    let (off, len) = (off as usize, len as usize);
    if off < input.len() {
        &input[off..off + len]
    } else {
        let off = off - input.len();
        &arena[off..off + len]
    }
}

impl Emitter<'_> {
    fn root(&mut self) -> Result<(), Unsupported> {
        match self.tape[0] {
            Node::Array { .. } | Node::Object { .. } => self.value(0).map(|_| ()),
            _ => {
                // A root scalar is a one-element "raw scalar" array (jsonb_in_scalar).
                self.put_u32(1 | JB_FARRAY | JB_FSCALAR);
                let jpos = self.out.len();
                self.put_u32(0);
                let (meta, _) = self.value(0)?;
                let meta = (meta & JENTRY_TYPEMASK) | (meta & JENTRY_OFFLENMASK) | JENTRY_HAS_OFF;
                self.set_u32(jpos, meta);
                Ok(())
            }
        }
    }

    #[inline]
    fn put_u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    #[inline]
    fn set_u32(&mut self, at: usize, v: u32) {
        self.out[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// padBufferToInt: the number of zero bytes appended.
    #[inline]
    fn pad(&mut self) -> u32 {
        let rem = (self.out.len() - self.base) & 3;
        if rem == 0 {
            0
        } else {
            let n = 4 - rem;
            self.out.extend_from_slice(&[0u8; 3][..n]);
            n as u32
        }
    }

    #[inline]
    fn next(&self, idx: usize) -> usize {
        match self.tape[idx] {
            Node::Array { end, .. } | Node::Object { end, .. } => end as usize,
            _ => idx + 1,
        }
    }

    /// Writes one value's data; returns its JEntry (type | length) and the next tape index.
    fn value(&mut self, idx: usize) -> Result<(u32, usize), Unsupported> {
        match self.tape[idx] {
            Node::Null => Ok((JENTRY_ISNULL, idx + 1)),
            Node::True => Ok((JENTRY_ISBOOL_TRUE, idx + 1)),
            Node::False => Ok((JENTRY_ISBOOL_FALSE, idx + 1)),
            Node::Str { off, len } => {
                self.out
                    .extend_from_slice(key_bytes(self.input, self.arena, off, len));
                Ok((len, idx + 1))
            }
            Node::Num { off, len } => {
                let input = self.input;
                let text = &input[off as usize..(off + len) as usize];
                let n = self.numeric(text)?;
                Ok((JENTRY_ISNUMERIC | n, idx + 1))
            }
            Node::Array { count, end } => Ok((self.array(idx, count as usize)?, end as usize)),
            Node::Object { count, end } => Ok((self.object(idx, count as usize)?, end as usize)),
        }
    }

    fn array(&mut self, idx: usize, count: usize) -> Result<u32, Unsupported> {
        let start = self.out.len();
        self.pad();
        self.put_u32(count as u32 | JB_FARRAY);
        let jpos = self.out.len();
        self.out.resize(jpos + 4 * count, 0);
        let mut total = 0u32;
        let mut child = idx + 1;
        for i in 0..count {
            let (mut meta, next) = self.value(child)?;
            total += meta & JENTRY_OFFLENMASK;
            if total > JENTRY_OFFLENMASK {
                return Err(TOO_BIG);
            }
            if i.is_multiple_of(JB_OFFSET_STRIDE) {
                meta = (meta & JENTRY_TYPEMASK) | total | JENTRY_HAS_OFF;
            }
            self.set_u32(jpos + 4 * i, meta);
            child = next;
        }
        let len = self.out.len() - start;
        if len > JENTRY_OFFLENMASK as usize {
            return Err(TOO_BIG);
        }
        Ok(JENTRY_ISCONTAINER | len as u32)
    }

    fn object(&mut self, idx: usize, count: usize) -> Result<u32, Unsupported> {
        // Collect the members, sort them as uniqueifyJsonbObject does, drop duplicates.
        let p0 = self.pairs.len();
        let mut child = idx + 1;
        for order in 0..count {
            let Node::Str { off, len } = self.tape[child] else {
                unreachable!("object keys are strings on the tape")
            };
            let value = child + 1;
            self.pairs.push(Pair {
                off,
                len,
                value: value as u32,
                order: order as u32,
            });
            child = self.next(value);
        }
        let (input, arena) = (self.input, self.arena);
        let key = |p: &Pair| key_bytes(input, arena, p.off, p.len);
        if count > 1 {
            self.pairs[p0..].sort_unstable_by(|a, b| {
                a.len
                    .cmp(&b.len)
                    .then_with(|| key(a).cmp(key(b)))
                    .then(a.order.cmp(&b.order))
            });
            // Equal keys are now adjacent, in input order: keep the last of each run.
            let mut w = p0;
            for r in p0..self.pairs.len() {
                let p = self.pairs[r];
                if let Some(q) = self.pairs.get(r + 1) {
                    if q.len == p.len && key(q) == key(&p) {
                        continue;
                    }
                }
                self.pairs[w] = p;
                w += 1;
            }
            self.pairs.truncate(w);
        }
        let n = self.pairs.len() - p0;

        let start = self.out.len();
        self.pad();
        self.put_u32(n as u32 | JB_FOBJECT);
        let jpos = self.out.len();
        self.out.resize(jpos + 8 * n, 0);
        let mut total = 0u32;
        for i in 0..n {
            let p = self.pairs[p0 + i];
            self.out.extend_from_slice(key(&p));
            total += p.len;
            if total > JENTRY_OFFLENMASK {
                return Err(TOO_BIG);
            }
            let meta = if i.is_multiple_of(JB_OFFSET_STRIDE) {
                total | JENTRY_HAS_OFF
            } else {
                p.len
            };
            self.set_u32(jpos + 4 * i, meta);
        }
        for i in 0..n {
            let p = self.pairs[p0 + i];
            let (mut meta, _) = self.value(p.value as usize)?;
            total += meta & JENTRY_OFFLENMASK;
            if total > JENTRY_OFFLENMASK {
                return Err(TOO_BIG);
            }
            if (i + n).is_multiple_of(JB_OFFSET_STRIDE) {
                meta = (meta & JENTRY_TYPEMASK) | total | JENTRY_HAS_OFF;
            }
            self.set_u32(jpos + 4 * (n + i), meta);
        }
        self.pairs.truncate(p0);
        let len = self.out.len() - start;
        if len > JENTRY_OFFLENMASK as usize {
            return Err(TOO_BIG);
        }
        Ok(JENTRY_ISCONTAINER | len as u32)
    }

    /// numeric_in(text) as make_result stores it, int-aligned, with its 4-byte varlena header.
    /// Returns padding + datum length (the JEntry length). `text` is valid JSON number syntax.
    /// Checked by the first pass: within numeric's range.
    fn numeric(&mut self, text: &[u8]) -> Result<u32, Unsupported> {
        let (neg, int, frac, exp) = number_parts(text);
        let nd = int.len() + frac.len();
        // set_var_from_str: decimal digits D = int ++ frac; dweight is the power of ten of D[0].
        let digit = |j: i64| -> u16 {
            if j < 0 || j >= nd as i64 {
                0
            } else if (j as usize) < int.len() {
                (int[j as usize] - b'0') as u16
            } else {
                (frac[j as usize - int.len()] - b'0') as u16
            }
        };
        let dweight = int.len() as i64 - 1 + exp;
        let dscale = (frac.len() as i64 - exp).max(0);
        let weight = if dweight >= 0 {
            (dweight + 1 + DEC_DIGITS - 1) / DEC_DIGITS - 1
        } else {
            -((-dweight - 1) / DEC_DIGITS + 1)
        };
        let offset = (weight + 1) * DEC_DIGITS - (dweight + 1);
        // strip_var / make_result: drop zero base-10000 digits at both ends.
        let first = (0..nd as i64).find(|&j| digit(j) != 0);
        let pad = self.pad();
        let start = self.out.len();
        match first {
            None => {
                // Zero: weight 0, positive, no digits; dscale as written ("0.00" keeps 2).
                self.numeric_header(false, 0, dscale, 0);
            }
            Some(p) => {
                let q = (0..nd as i64).rev().find(|&j| digit(j) != 0).unwrap();
                let gp = (p + offset) / DEC_DIGITS;
                let gq = (q + offset) / DEC_DIGITS;
                let ndigits = (gq - gp + 1) as usize;
                self.numeric_header(neg, weight - gp, dscale, ndigits);
                for g in gp..=gq {
                    let j = g * DEC_DIGITS - offset;
                    let v =
                        ((digit(j) * 10 + digit(j + 1)) * 10 + digit(j + 2)) * 10 + digit(j + 3);
                    self.out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        Ok(pad + (self.out.len() - start) as u32)
    }

    /// The varlena header and numeric header words (short form when NUMERIC_CAN_BE_SHORT).
    fn numeric_header(&mut self, neg: bool, weight: i64, dscale: i64, ndigits: usize) {
        debug_assert!((0..=0x3FFF).contains(&dscale));
        debug_assert!((i16::MIN as i64..=i16::MAX as i64).contains(&weight));
        let short = dscale <= NUMERIC_SHORT_DSCALE_MAX
            && (NUMERIC_SHORT_WEIGHT_MIN..=NUMERIC_SHORT_WEIGHT_MAX).contains(&weight);
        if short {
            let size = 4 + 2 + 2 * ndigits as u32;
            self.put_u32(size << 2); // SET_VARSIZE (4-byte header, little-endian)
            let mut h = NUMERIC_SHORT | ((dscale as u16) << NUMERIC_SHORT_DSCALE_SHIFT);
            if neg {
                h |= NUMERIC_SHORT_SIGN_MASK;
            }
            if weight < 0 {
                h |= NUMERIC_SHORT_WEIGHT_SIGN_MASK;
            }
            h |= (weight as u16) & NUMERIC_SHORT_WEIGHT_MASK;
            self.out.extend_from_slice(&h.to_le_bytes());
        } else {
            let size = 4 + 4 + 2 * ndigits as u32;
            self.put_u32(size << 2);
            let sign_dscale = if neg { NUMERIC_NEG } else { 0 } | dscale as u16;
            self.out.extend_from_slice(&sign_dscale.to_le_bytes());
            self.out.extend_from_slice(&(weight as i16).to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Expected bytes: the jsonb datum (varlena header cut off) that PostgreSQL 15.20 stored for
    /// `INSERT INTO u VALUES ($1::jsonb)`, read back with pageinspect
    /// (`heap_page_items(get_raw_page('u', 0))`, column `j jsonb` with STORAGE PLAIN).
    const FROM_POSTGRES: &[(&str, &str)] = &[
        ("{}", "00000020"),
        ("[]", "00000040"),
        ("null", "01000050000000c0"),
        (r#""\u00e9""#, "0100005002000080c3a9"),
        ("-0", "0100005006000090180000000080"),
        ("0.0000006", "010000500800009020000000fe833c00"),
        ("1.50", "010000500a00009028000000008101008813"),
        ("-2.5e+3", "01000050080000902000000000a0c409"),
        (
            "123456789012345678901234567890",
            "01000050160000905800000007800c00800dd21ed2042e163423800dd21e",
        ),
        ("1e-64", "010000500a000090280000004000f0ff0100"),
        (
            r#"{"b":1,"a":2,"aa":[true,false,null]}"#,
            "03000020010000800100000002000000080000100800001010000050616261612000000000800200\
             200000000080010003000040000000b00000002000000040",
        ),
        (
            r#"{"a":1,"a":2}"#,
            "01000020010000800b000010610000002000000000800200",
        ),
        (
            r#"[1,"x",{}]"#,
            "0300004008000090010000000700005020000000008001007800000000000020",
        ),
        (
            r#"{"s":"\u00e9\n\"","n":128000}"#,
            "0200002001000080010000000c000010040000006e7300002800000001800c00401fc3a90a22",
        ),
        (
            r#"["a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a"]"#,
            "21000040010000800100000001000000010000000100000001000000010000000100000001000000\
             01000000010000000100000001000000010000000100000001000000010000000100000001000000\
             01000000010000000100000001000000010000000100000001000000010000000100000001000000\
             01000000010000000100000021000080616161616161616161616161616161616161616161616161\
             616161616161616161",
        ),
    ];

    #[test]
    fn postgres_bytes() {
        for (json, expected) in FROM_POSTGRES {
            let got = encode(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(hex(&got), *expected, "{json}");
        }
    }

    #[test]
    fn whitespace_and_escapes_do_not_matter() {
        let a = encode(r#"{"s":"é\n\"","n":128000}"#).unwrap();
        let b = encode(" {\n\t\"n\" : 128000 ,\r\n \"s\":\"\\u00E9\\u000a\\\"\" } \n").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            encode("\"\\ud83d\\ude00\"").unwrap(),
            encode("\"😀\"").unwrap()
        );
    }

    #[test]
    fn encode_into_appends_and_aligns_relative_to_its_start() {
        let alone = encode(r#"[1,"x",{}]"#).unwrap();
        let mut out = vec![0xAA; 3];
        encode_into(r#"[1,"x",{}]"#, &mut out).unwrap();
        assert_eq!(&out[..3], &[0xAA; 3]);
        assert_eq!(&out[3..], &alone[..]);
        // On error, out is left as it was.
        let before = out.clone();
        assert!(encode_into(r#"[1,"x",{}"#, &mut out).is_err());
        assert_eq!(out, before);
    }

    #[test]
    fn rejects_what_jsonb_in_rejects() {
        for bad in [
            "",
            " ",
            "[",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\"}",
            "{1:1}",
            "01",
            "-",
            "1.",
            ".5",
            "+1",
            "1e",
            "NaN",
            "Infinity",
            "nul",
            "truex",
            "[1 2]",
            "1 2",
            "\"\\u0000\"",
            "\"\\ud83d\"",
            "\"\\ude00\"",
            "\"\\ud83d\\n\"",
            "\"\\u12g4\"",
            "\"\\x\"",
            "\"a\tb\"",
            "\"a\u{0}b\"",
            "\u{0}",
            "\"unterminated",
            "\u{c}1",
            "\u{a0}1",
            "[1]x",
            "'a'",
        ] {
            assert!(encode(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn limits_are_errors_not_guesses() {
        let deep = format!("{}{}", "[".repeat(101), "]".repeat(101));
        assert_eq!(encode(&deep), Err(DEEP));
        assert_eq!(unstorable(&deep), Some(DEEP.0));
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(encode(&ok).is_ok());
        assert_eq!(unstorable(&ok), None);
    }

    /// numeric's own limits, as jsonb_in applies them (each checked on a cluster;
    /// src/tests/formats.rs compares the bytes). One differs: from PostgreSQL 16 an exponent
    /// of INT_MAX / 2 itself is read.
    #[test]
    fn numbers_up_to_numerics_limits_and_not_beyond() {
        let zeros = |n: usize| "0".repeat(n);
        let (max_exponent, max_exponent_ok) = ("0e1073741823".to_string(), !cfg!(feature = "pg15"));
        assert_eq!(encode(&max_exponent).is_ok(), max_exponent_ok);
        assert_eq!(encode("0e1073741824"), Err(OUT_OF_RANGE));
        for ok in [
            "1e131071".to_string(),
            "9.9e131071".into(),
            "1e-16383".into(),
            "0e1073741822".into(),
            "0e-16383".into(),
            "0.0000e131075".into(),
            format!("1{}", zeros(131_071)),
            format!("0.{}1", zeros(16_382)),
            format!("-0.{}", zeros(16_383)),
        ] {
            assert!(encode(&ok).is_ok(), "{}", &ok[..ok.len().min(40)]);
        }
        for bad in [
            "1e131072".to_string(),
            "1e-16384".into(),
            "0.1e-16383".into(),
            "0e-1073741822".into(),
            "1e99999999999999999999999999".into(),
            format!("1{}", zeros(131_072)),
            format!("0.{}0", zeros(16_383)),
        ] {
            assert_eq!(
                encode(&bad),
                Err(OUT_OF_RANGE),
                "{}",
                &bad[..bad.len().min(40)]
            );
            assert!(OUT_OF_RANGE.jsonb_in_refuses());
        }
    }

    /// jsonb_in validates the values of every duplicate key, also those it then drops:
    /// `SELECT '{"a":1e-16384,"a":1}'::jsonb` raises "value overflows numeric format".
    #[test]
    fn values_under_dropped_duplicate_keys_are_checked() {
        assert_eq!(encode(r#"{"a":1e-16384,"a":1}"#), Err(OUT_OF_RANGE));
        assert_eq!(encode(r#"{"a":"\u0000","a":1}"#), Err(NUL));
        assert!(encode(r#"{"a":[1e-16383],"a":1}"#).is_ok());
        assert_eq!(unstorable(r#"{"a":1e-16384,"a":1}"#), Some(OUT_OF_RANGE.0));
    }

    /// A failed first pass does not keep buffers grown to the input's size.
    #[test]
    fn buffers_are_trimmed_after_a_failure() {
        let mut e = Encoder::new();
        let big = format!("[{}", "1,".repeat(1 << 20));
        assert!(e.encode_into(&big, &mut Vec::new()).is_err());
        assert!(e.tape.capacity() <= 1 << 16, "{}", e.tape.capacity());
    }

    #[test]
    fn fixture_models_are_all_supported() {
        for name in [crate::tests::testkit::OLD, crate::tests::testkit::NEW] {
            let body = crate::tests::testkit::fixture(name);
            let page = crate::models::parse_page(&body).unwrap();
            assert!(page.models.len() > 300);
            for m in &page.models {
                let v = encode(m.get()).unwrap_or_else(|e| panic!("{name}: {e}"));
                // An object at the root.
                assert_eq!(
                    u32::from_le_bytes(v[..4].try_into().unwrap()) & JB_FOBJECT,
                    JB_FOBJECT
                );
            }
        }
    }

    /// Any JSON value, a few levels deep (serde_json writes it; keys may repeat in spirit
    /// through similar lengths, strings carry escapes and non-ASCII).
    fn any_json() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::{json, Value};
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            "[^\u{0}]{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 40, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..40).prop_map(Value::Array),
                prop::collection::btree_map("[a-c\u{e9}]{0,3}", inner, 0..40)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Never panics; whatever it accepts is JSON.
        #[test]
        fn arbitrary_text(s in "(?s).{0,60}|[\\[\\]{}\",:0-9eE.+\\- \\\\u\\ntrufalsn]{0,60}") {
            if encode(&s).is_ok() {
                prop_assert!(serde_json::from_str::<serde::de::IgnoredAny>(&s).is_ok(), "{s:?}");
            }
        }

        /// Valid JSON without \u0000 and within the limits is always encoded, compact or pretty,
        /// to the same bytes.
        #[test]
        fn json_values_are_supported(v in any_json()) {
            let compact = serde_json::to_string(&v).unwrap();
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            let a = encode(&compact);
            prop_assert!(a.is_ok(), "{compact}: {a:?}");
            prop_assert_eq!(a, encode(&pretty));
        }
    }

    /// `cargo test --release --lib pg::jsonb::tests::throughput -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement; run in release"]
    fn throughput() {
        let body = crate::tests::testkit::fixture(crate::tests::testkit::NEW);
        let page = crate::models::parse_page(&body).unwrap();
        let models: Vec<&str> = page.models.iter().map(|m| m.get()).collect();
        let bytes: usize = models.iter().map(|m| m.len()).sum();
        let compact: Vec<String> = models
            .iter()
            .map(|m| {
                serde_json::to_string(&serde_json::from_str::<serde_json::Value>(m).unwrap())
                    .unwrap()
            })
            .collect();
        let compact_bytes: usize = compact.iter().map(|m| m.len()).sum();
        let rounds = 100;
        for (label, inputs, total) in [
            (
                "raw (pretty-printed, as in the file)",
                models.clone(),
                bytes,
            ),
            (
                "compact (serde_json output)",
                compact.iter().map(|s| s.as_str()).collect(),
                compact_bytes,
            ),
        ] {
            let mut out = Vec::new();
            let mut sink = 0usize;
            for m in &inputs {
                sink += encode(m).unwrap().len(); // warm-up
            }
            let t = std::time::Instant::now();
            for _ in 0..rounds {
                for m in &inputs {
                    out.clear();
                    encode_into(m, &mut out).unwrap();
                    sink += out.len();
                }
            }
            let into = t.elapsed().as_secs_f64();
            let t = std::time::Instant::now();
            for _ in 0..rounds {
                for m in &inputs {
                    sink += encode(m).unwrap().len();
                }
            }
            let alloc = t.elapsed().as_secs_f64();
            let t = std::time::Instant::now();
            for _ in 0..rounds {
                for m in &inputs {
                    sink += serde_json::from_str::<serde_json::Value>(m)
                        .unwrap()
                        .is_object() as usize;
                }
            }
            let serde = t.elapsed().as_secs_f64();
            let mb = (total * rounds) as f64 / 1e6;
            eprintln!(
                "{label}: {} models, {:.0} kB x {rounds}: encode_into {:.0} MB/s, encode {:.0} MB/s \
                 (serde_json::Value parse alone: {:.0} MB/s) [{sink}]",
                inputs.len(),
                total as f64 / 1e3,
                mb / into,
                mb / alloc,
                mb / serde
            );
        }
    }
}
