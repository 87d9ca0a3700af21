//! Decoding costs memory proportional to what the input holds, measured with a counting global allocator.
//!
//! Issue 13: a valid 16 MiB metadata map used to cost 530 MiB (a 32-byte `Value` per one-byte item plus Vec
//! doubling). The decoder now validates metadata without allocating and keeps it as a slice.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;
use tensorcbor::{decode_bundle, encode_bundle, DType, TensorView, Value};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Tests in this file run one at a time so that the counters see one decode.
static SERIAL: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
            PEAK.fetch_max(live, Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Peak bytes allocated (above what was live before) while `f` runs.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let out = f();
    (out, PEAK.load(Relaxed) - before)
}

/// A bundle with no tensors whose metadata is `{"k": [0, 0, ...]}` of `items` one-byte integers.
fn bundle_with_int_array(items: u32) -> Vec<u8> {
    let mut doc = vec![
        0xd9, 0xd9, 0xf7, 0xd9, 0xcb, 0x62, 0x85, 0x01, 0xa1, 0x61, b'k', 0x9a,
    ];
    doc.extend_from_slice(&items.to_be_bytes());
    doc.resize(doc.len() + items as usize, 0);
    doc.push(0x80); // empty directory
    let k = (8 - (doc.len() + 1) % 8) % 8;
    doc.push(0x40 | k as u8);
    doc.resize(doc.len() + k, 0);
    doc.push(0x80); // no tensor items
    doc
}

#[test]
fn a_16_mib_metadata_map_is_validated_without_allocating() {
    let _g = SERIAL.lock().unwrap();
    let doc = bundle_with_int_array(16 * 1024 * 1024 - 8);
    let (b, peak) = peak_during(|| decode_bundle(&doc).map(|b| b.metadata.len()));
    assert_eq!(b, Ok(1));
    eprintln!("16 MiB metadata map: peak {peak} bytes allocated while decoding");
    assert!(peak <= 4096, "decoding allocated {peak} bytes");
    // One past the limit: METADATA_TOO_LARGE, still without allocating.
    let doc = bundle_with_int_array(16 * 1024 * 1024 - 7);
    let (e, peak) = peak_during(|| decode_bundle(&doc).map(|_| ()));
    assert_eq!(e.unwrap_err().code, tensorcbor::ErrorCode::MetadataTooLarge);
    assert!(peak <= 4096, "rejecting allocated {peak} bytes");
}

#[test]
fn building_one_value_costs_that_value_only() {
    let _g = SERIAL.lock().unwrap();
    let mut big = bundle_with_int_array(1 << 20);
    // Add a second key after "k": {"k": [...], "z": 7}.
    big[8] = 0xa2;
    let at = 12 + 4 + (1 << 20);
    big.splice(at..at, [0x61, b'z', 0x07]);
    let tail = big.len() - (at + 3);
    big.truncate(at + 3);
    big.push(0x80);
    let k = (8 - (big.len() + 1) % 8) % 8;
    big.push(0x40 | k as u8);
    big.resize(big.len() + k, 0);
    big.push(0x80);
    assert!(tail > 0);
    let b = decode_bundle(&big).unwrap();
    let (v, peak) = peak_during(|| b.meta("z"));
    assert_eq!(v, Some(Value::Int(7)));
    assert!(peak <= 256, "looking up a scalar allocated {peak} bytes");
}

#[test]
fn many_small_tensors_cost_a_small_multiple_of_the_input() {
    let _g = SERIAL.lock().unwrap();
    let names: Vec<String> = (0..20_000).map(|i| format!("{i:05}")).collect();
    let byte = [1u8];
    let tensors: Vec<(&str, TensorView<'_>)> = names
        .iter()
        .map(|n| (n.as_str(), TensorView::new(DType::Uint8, &[1], &byte)))
        .collect();
    let doc = encode_bundle(&tensors, &[("m", Value::Null)]).unwrap();
    drop(tensors);
    let (b, peak) = peak_during(|| decode_bundle(&doc).map(|b| b.tensors.len()));
    assert_eq!(b, Ok(20_000));
    let ratio = peak as f64 / doc.len() as f64;
    eprintln!(
        "20,000 one-element tensors: {} input bytes, peak {peak} bytes allocated ({ratio:.1}x)",
        doc.len()
    );
    assert!(ratio <= 12.0, "{ratio:.1}x the input");
}

/// A `StreamDecoder` that has handed out a large tensor gives its buffer back, so a caller keeping the tensors
/// (a canister building a model) fills freed memory rather than growing the heap past the decoder's buffer.
#[cfg(feature = "stream")]
#[test]
fn a_stream_decoder_gives_back_the_buffer_of_a_large_tensor() {
    use tensorcbor::stream::{Event, StreamDecoder};
    let _g = SERIAL.lock().unwrap();
    let (big, small) = (vec![1u8; 16 << 20], vec![2u8; 1 << 20]);
    let names: Vec<String> = (0..16).map(|i| format!("b{i:02}")).collect();
    let mut tensors = vec![("a", TensorView::new(DType::Uint8, &[16 << 20], &big))];
    tensors.extend(names.iter().map(|n| {
        (
            n.as_str(),
            TensorView::new(DType::Uint8, &[1 << 20], &small),
        )
    }));
    let doc = encode_bundle(&tensors, &[]).unwrap();
    drop(tensors);
    let before = LIVE.load(Relaxed);
    let mut dec = StreamDecoder::new();
    let mut kept: Vec<Vec<u8>> = Vec::with_capacity(17);
    let payloads: Vec<&[u8]> = doc.chunks(1 << 20).collect();
    for (i, p) in payloads.iter().enumerate() {
        dec.push(p, i + 1 == payloads.len(), &mut |e| {
            if let Event::Tensor { tensor, .. } = e {
                kept.push(tensor.data().unwrap_or(&[]).to_vec());
            }
        })
        .unwrap();
    }
    dec.finish().unwrap();
    let kept_bytes: usize = kept.iter().map(Vec::capacity).sum();
    let held = LIVE.load(Relaxed) - before - kept_bytes - kept.capacity() * 24;
    eprintln!("after a 16 MiB tensor and 16 of 1 MiB: the decoder holds {held} bytes");
    assert_eq!(kept.len(), 17);
    assert!(held < 4 << 20, "the decoder still holds {held} bytes");
}
