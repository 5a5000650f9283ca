//! Array parameters for SPI statements, built as PostgreSQL lays them out: `text[]` and
//! `jsonb[]` in one allocation each, jsonb elements already in binary form (see `jsonb`) or
//! LZ4-compressed as the toaster would (see `lz4`).

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;

/// A document for a jsonb column: the jsonb body built in Rust (the bytes after the varlena
/// header, see pg::jsonb: Postgres need not parse the text again, which was a third of
/// the time of writing things), or JSON text where the encoder declined it (it then goes
/// through jsonb_in, with the same result).
#[derive(Clone, Copy)]
pub(crate) enum Doc<'a> {
    Jsonb(&'a [u8]),
    /// The LZ4 block of a jsonb body of `raw` bytes (pg::lz4).
    Lz4 {
        raw: u32,
        block: &'a [u8],
    },
    Text(&'a str),
}

/// A `jsonb[]` parameter of JSON texts, encoded here (labs, providers, endpoints: few).
pub(crate) fn jsonb_array_of_texts<'a>(texts: &[&str]) -> DatumWithOid<'a> {
    let bodies: Vec<Option<Vec<u8>>> = texts.iter().map(|t| super::jsonb::encode(t).ok()).collect();
    let docs: Vec<Doc> = texts
        .iter()
        .zip(&bodies)
        .map(|(t, b)| match b {
            Some(b) => Doc::Jsonb(b),
            None => Doc::Text(t),
        })
        .collect();
    jsonb_array(&docs)
}

/// A `jsonb[]` parameter of `docs` (see `varlena_array`); declined documents go through
/// jsonb_in first.
pub(crate) fn jsonb_array<'a>(docs: &[Doc<'_>]) -> DatumWithOid<'a> {
    let elems: Vec<Option<Elem>> = docs
        .iter()
        .map(|doc| match *doc {
            Doc::Jsonb(body) => Some(Elem::Body(body)),
            #[cfg(target_endian = "little")]
            Doc::Lz4 { raw, block } => Some(Elem::Compressed(
                super::lz4::header(raw as usize, block.len()),
                block,
            )),
            #[cfg(not(target_endian = "little"))]
            Doc::Lz4 { .. } => {
                unreachable!("models::store::lz4_above is None on big-endian machines")
            }
            Doc::Text(text) => {
                let c = std::ffi::CString::new(text)
                    .unwrap_or_else(|_| pgrx::error!("openrouter: a document holds a NUL byte"));
                // SAFETY: jsonb_in gets a NUL-terminated string that outlives the call and
                // returns a fresh varlena with a 4-byte header, alive until the batch's
                // memory context is reset (after this array is used).
                unsafe {
                    let d = pgrx::direct_function_call_as_datum(
                        pg_sys::jsonb_in,
                        &[Some(pg_sys::Datum::from(c.as_ptr()))],
                    )
                    .expect("jsonb_in returns a value");
                    let p = d.cast_mut_ptr::<pg_sys::varlena>();
                    Some(Elem::Body(std::slice::from_raw_parts(
                        pgrx::vardata_any(p) as *const u8,
                        pgrx::varsize_any_exhdr(p),
                    )))
                }
            }
        })
        .collect();
    varlena_array(pg_sys::JSONBOID, pg_sys::JSONBARRAYOID, &elems)
}

/// A `text[]` parameter, see `varlena_array`.
pub(crate) fn text_array<'a, S: AsRef<str>>(texts: &[S]) -> DatumWithOid<'a> {
    let elems: Vec<Option<Elem>> = texts
        .iter()
        .map(|t| Some(Elem::Body(t.as_ref().as_bytes())))
        .collect();
    varlena_array(pg_sys::TEXTOID, pg_sys::TEXTARRAYOID, &elems)
}

/// A `text[]` parameter with NULLs, see `varlena_array`.
pub(crate) fn nullable_text_array<'a>(texts: &[Option<&str>]) -> DatumWithOid<'a> {
    let elems: Vec<Option<Elem>> = texts
        .iter()
        .map(|t| t.map(|t| Elem::Body(t.as_bytes())))
        .collect();
    varlena_array(pg_sys::TEXTOID, pg_sys::TEXTARRAYOID, &elems)
}

/// One element of a varlena array: its bytes after a 4-byte header, or an inline
/// compressed varlena (its 8-byte header, then the block).
#[derive(Clone, Copy)]
enum Elem<'a> {
    Body(&'a [u8]),
    Compressed([u8; 8], &'a [u8]),
}

impl Elem<'_> {
    /// Length with the varlena header.
    fn size(&self) -> usize {
        match self {
            Elem::Body(b) => pg_sys::VARHDRSZ + b.len(),
            Elem::Compressed(h, b) => h.len() + b.len(),
        }
    }
}

/// A one-dimensional array parameter of a varlena type (typalign 'i': text, jsonb), built
/// in place as one allocation in the current memory context. pgrx's conversion of a Vec
/// (and construct_array) copies every element three times, through two pallocs each.
fn varlena_array<'a>(
    elemtype: pg_sys::Oid,
    arraytype: pg_sys::Oid,
    elems: &[Option<Elem<'_>>],
) -> DatumWithOid<'a> {
    if elems.is_empty() {
        // PostgreSQL's empty array has no dimensions at all.
        // SAFETY: plain constructor, allocates in the current memory context.
        return unsafe {
            let empty = pg_sys::construct_empty_array(elemtype);
            DatumWithOid::new(pg_sys::Datum::from(empty), arraytype)
        };
    }
    let align4 = |n: usize| (n + 3) & !3;
    let maxalign = |n: usize| {
        (n + pg_sys::MAXIMUM_ALIGNOF as usize - 1) & !(pg_sys::MAXIMUM_ALIGNOF as usize - 1)
    };
    // ArrayType, dims[1], lbound[1], the null bitmap if any element is NULL (utils/array.h:
    // ARR_OVERHEAD_NONULLS / ARR_OVERHEAD_WITHNULLS), MAXALIGNed; then each element with its
    // varlena header at a 4-byte boundary.
    let dims_at = std::mem::size_of::<pg_sys::ArrayType>();
    let bitmap_at = dims_at + 2 * std::mem::size_of::<i32>();
    let has_nulls = elems.iter().any(Option::is_none);
    let header = maxalign(
        bitmap_at
            + if has_nulls {
                elems.len().div_ceil(8)
            } else {
                0
            },
    );
    let total = header
        + elems
            .iter()
            .flatten()
            .map(|e| align4(e.size()))
            .sum::<usize>();
    if total > 0x3fff_ffff {
        pgrx::error!("openrouter: a batch of {} values exceeds 1 GB", elems.len());
    }
    // SAFETY: one zeroed allocation of `total` bytes, filled within its bounds as computed
    // above, in PostgreSQL's layout for ndim 1.
    unsafe {
        let a = pg_sys::palloc0(total) as *mut pg_sys::ArrayType;
        pgrx::set_varsize_4b(a as *mut pg_sys::varlena, total as i32);
        (*a).ndim = 1;
        (*a).dataoffset = if has_nulls { header as i32 } else { 0 };
        (*a).elemtype = elemtype;
        let dims = (a as *mut u8).add(dims_at) as *mut i32;
        *dims = elems.len() as i32;
        *dims.add(1) = 1;
        let bitmap = (a as *mut u8).add(bitmap_at);
        let mut at = (a as *mut u8).add(header);
        for (i, elem) in elems.iter().enumerate() {
            let Some(elem) = elem else { continue };
            if has_nulls {
                *bitmap.add(i / 8) |= 1 << (i % 8);
            }
            let (hdr, body) = match elem {
                Elem::Body(body) => {
                    let n = pg_sys::VARHDRSZ;
                    pgrx::set_varsize_4b(at as *mut pg_sys::varlena, (n + body.len()) as i32);
                    (n, body)
                }
                // An inline compressed varlena, as toast_compress_datum makes it.
                Elem::Compressed(h, body) => {
                    std::ptr::copy_nonoverlapping(h.as_ptr(), at, h.len());
                    (h.len(), body)
                }
            };
            std::ptr::copy_nonoverlapping(body.as_ptr(), at.add(hdr), body.len());
            at = at.add(align4(elem.size()));
        }
        DatumWithOid::new(pg_sys::Datum::from(a), arraytype)
    }
}
