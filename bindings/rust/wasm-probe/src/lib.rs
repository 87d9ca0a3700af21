//! A no_std wasm32 module exporting a few tensorcbor operations, for tests and cost figures under wasmtime.
//!
//! The host writes its input into memory from [`alloc`], calls an export, and reads the result. Errors are
//! returned as `-(1 + index of the code in the registry)`. With the `baseline` feature every tensorcbor call
//! is left out (the exports keep their ABI and do the same non-tensorcbor work), so the size difference of
//! the two modules is the crate's share.
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::vec::Vec;
#[cfg(not(feature = "baseline"))]
use tensorcbor::{decode_bundle, decode_tensor, encode_tensor, DType, Error, ErrorCode};

#[cfg(target_arch = "wasm32")]
mod wasm_rt {
    //! Bump allocator over linear memory (never frees; the host calls `reset` between measurements) and a
    //! panic handler that traps.
    use core::alloc::{GlobalAlloc, Layout};
    use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    extern "C" {
        static __heap_base: u8;
    }

    static NEXT: AtomicUsize = AtomicUsize::new(0);

    pub fn reset() {
        NEXT.store(0, Relaxed);
    }

    struct Bump;

    unsafe impl GlobalAlloc for Bump {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let mut next = NEXT.load(Relaxed);
            if next == 0 {
                next = core::ptr::addr_of!(__heap_base) as usize;
            }
            let start = (next + layout.align() - 1) & !(layout.align() - 1);
            let end = start + layout.size();
            let have = core::arch::wasm32::memory_size(0) * 65536;
            if end > have {
                let pages = (end - have).div_ceil(65536);
                if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                    return core::ptr::null_mut();
                }
            }
            NEXT.store(end, Relaxed);
            start as *mut u8
        }
        unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
    }

    #[global_allocator]
    static GLOBAL: Bump = Bump;

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        core::arch::wasm32::unreachable()
    }
}

/// Forget every allocation (the host's input buffers included).
#[no_mangle]
pub extern "C" fn reset() {
    #[cfg(target_arch = "wasm32")]
    wasm_rt::reset();
}

/// An 8-aligned buffer of `len` bytes for the host to fill (documents are viewed in place).
#[no_mangle]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    let mut v: Vec<u64> = Vec::with_capacity(len.div_ceil(8).max(1));
    let p = v.as_mut_ptr() as *mut u8;
    core::mem::forget(v);
    p
}

/// # Safety
/// `ptr..ptr+len` must be memory the host wrote (from [`alloc`]).
unsafe fn input<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    core::slice::from_raw_parts(ptr, len)
}

#[cfg(not(feature = "baseline"))]
fn code(e: Error) -> i32 {
    let i = ErrorCode::ALL
        .iter()
        .position(|&c| c == e.code)
        .unwrap_or(0);
    -1 - i as i32
}

/// Decode a tensor document; returns the element bytes' offset in the document, or a negative error.
///
/// # Safety
/// See [`input`].
#[no_mangle]
pub unsafe extern "C" fn decode_view(ptr: *const u8, len: usize) -> i32 {
    let doc = input(ptr, len);
    #[cfg(not(feature = "baseline"))]
    {
        match decode_tensor(doc) {
            Ok(t) => t
                .data()
                .map_or(0, |d| (d.as_ptr() as usize - ptr as usize) as i32),
            Err(e) => code(e),
        }
    }
    #[cfg(feature = "baseline")]
    {
        doc.len() as i32
    }
}

/// Decode a float32 tensor document and sum its elements in order (f64 accumulator); NaN if rejected
/// or not float32.
///
/// # Safety
/// See [`input`].
#[no_mangle]
pub unsafe extern "C" fn sum_f32(ptr: *const u8, len: usize) -> f64 {
    let doc = input(ptr, len);
    #[cfg(not(feature = "baseline"))]
    let data = match decode_tensor(doc) {
        Ok(t) if t.dtype == DType::Float32 => t.data().unwrap_or(&[]),
        _ => return f64::NAN,
    };
    #[cfg(feature = "baseline")]
    let data = doc;
    let mut acc = 0.0f64;
    for c in data.chunks_exact(4) {
        let mut b = [0u8; 4];
        b.copy_from_slice(c);
        acc += f32::from_le_bytes(b) as f64;
    }
    acc
}

/// Decode a bundle document (every tensor checked); returns its tensor count, or a negative error.
///
/// # Safety
/// See [`input`].
#[no_mangle]
pub unsafe extern "C" fn bundle_tensor_count(ptr: *const u8, len: usize) -> i32 {
    let doc = input(ptr, len);
    #[cfg(not(feature = "baseline"))]
    {
        match decode_bundle(doc) {
            Ok(b) => b.tensors.len() as i32,
            Err(e) => code(e),
        }
    }
    #[cfg(feature = "baseline")]
    {
        doc.len() as i32
    }
}

static mut OUT: (usize, usize) = (0, 0);

/// Encode `len` bytes at `ptr` as a rank-1 tensor document of `dtype` (its wire code) with `n` elements;
/// returns the document's address (length from [`out_len`]), or a negative error.
///
/// # Safety
/// See [`input`].
#[no_mangle]
pub unsafe extern "C" fn encode(ptr: *const u8, len: usize, dtype: u32, n: u32) -> i32 {
    let data = input(ptr, len);
    #[cfg(not(feature = "baseline"))]
    let doc = {
        let Some(dt) = DType::from_code(dtype as u64) else {
            return -1
                - ErrorCode::ALL
                    .iter()
                    .position(|&c| c == ErrorCode::UnknownDtype)
                    .unwrap_or(0) as i32;
        };
        match encode_tensor(dt, &[n as u64], data) {
            Ok(doc) => doc,
            Err(e) => return code(e),
        }
    };
    #[cfg(feature = "baseline")]
    let doc = {
        let _ = (dtype, n);
        let mut v = Vec::with_capacity(len + 32);
        v.extend_from_slice(data);
        v
    };
    let out = (doc.as_ptr() as usize, doc.len());
    core::mem::forget(doc);
    OUT = out;
    out.0 as i32
}

/// The length of the last document [`encode`] produced.
#[no_mangle]
pub extern "C" fn out_len() -> usize {
    // SAFETY: single-threaded module; OUT is written only by `encode`.
    unsafe { OUT.1 }
}

#[cfg(feature = "stream")]
static mut RX: Option<tensorcbor::stream::SequentialReceiver> = None;

/// Start a new stream (a sequential receiver with no expected digest and no quota).
#[cfg(feature = "stream")]
#[no_mangle]
pub extern "C" fn stream_reset() {
    // SAFETY: single-threaded module; RX is only touched by these two exports.
    unsafe {
        *core::ptr::addr_of_mut!(RX) = Some(tensorcbor::stream::SequentialReceiver::new(None, None))
    };
}

/// Give the receiver one chunk: the data chunk's index (0 for the manifest), or a negative error.
///
/// # Safety
/// See [`input`]; call [`stream_reset`] first.
#[cfg(feature = "stream")]
#[no_mangle]
pub unsafe extern "C" fn stream_accept(ptr: *const u8, len: usize) -> i32 {
    let chunk = input(ptr, len);
    let Some(rx) = (*core::ptr::addr_of_mut!(RX)).as_mut() else {
        return i32::MIN;
    };
    match rx.accept(chunk) {
        Ok(d) => d.map_or(0, |d| d.index as i32),
        Err(e) => code(e),
    }
}
