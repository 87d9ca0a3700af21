//! The public API: round trips, encoder errors, zero-copy alignment, resource bounds.

use tensorcbor::{
    decode_bundle, decode_tensor, encode_bundle, encode_bundle_with, encode_tensor,
    encode_tensor_head, encode_view, DType, Elements, ErrorCode, TensorView, Value, MAX_NESTING,
};

fn f32_bytes(xs: &[f32]) -> Vec<u8> {
    xs.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn spec_example_b1() {
    let data = f32_bytes(&[0.0, 0.5, 1.0, 1.5, 2.0, 2.5]);
    let doc = encode_tensor(DType::Float32, &[2, 3], &data).unwrap();
    let mut want = vec![
        0xd9, 0xd9, 0xf7, 0xd9, 0xcb, 0x74, 0x84, 0x01, 0x01, 0x82, 0x02, 0x03,
    ];
    want.extend_from_slice(&[0xd8, 0x55, 0x58, 0x18]);
    want.extend_from_slice(&data);
    assert_eq!(doc, want);
    let t = decode_tensor(&doc).unwrap();
    assert_eq!(t.dtype, DType::Float32);
    assert_eq!(t.shape, [2, 3]);
    assert_eq!(t.data(), Some(&data[..]));
    assert_eq!(t.len(), 6);
}

#[test]
fn elements_are_aligned_slices_of_the_input() {
    for dtype in DType::ALL {
        let Some(bits) = dtype.bits() else { continue };
        for n in 0..9u64 {
            let len = (n * bits as u64).div_ceil(8) as usize;
            let data = vec![if dtype == DType::Bool { 1 } else { 0 }; len];
            let doc = encode_tensor(dtype, &[n], &data).unwrap();
            let t = decode_tensor(&doc).unwrap();
            let slice = t.data().unwrap();
            let offset = slice.as_ptr() as usize - doc.as_ptr() as usize;
            assert_eq!(offset % dtype.align(), 0, "{dtype} n={n}");
            assert_eq!(offset + len, doc.len());
            assert_eq!(encode_view(&t).unwrap(), doc);
        }
    }
}

#[test]
fn bundle_round_trip_sorts_names_and_keys() {
    let w = f32_bytes(&[1.0, 2.0]);
    let tensors = [
        ("weight", TensorView::new(DType::Float32, &[2], &w)),
        ("b", TensorView::new(DType::Int4, &[3], &[0x78, 0x01])),
        ("labels", TensorView::strings(&[2], vec!["cat", "dog"])),
    ];
    let metadata = [
        ("version", Value::Int(-(1i128 << 64))),
        ("lr", Value::Float(0.001)),
        ("nan", Value::Float(f64::NAN)),
        (
            "a",
            Value::Array(vec![
                Value::Null,
                Value::Bool(true),
                Value::Bytes(b"\x00\xff"),
            ]),
        ),
        (
            "m",
            Value::Map(vec![("z", Value::Text("last")), ("y", Value::Float(1.0))]),
        ),
    ];
    let doc = encode_bundle(&tensors, &metadata).unwrap();
    let b = decode_bundle(&doc).unwrap();
    let names: Vec<&str> = b.tensors.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["b", "labels", "weight"]);
    let keys: Vec<&str> = b.metadata.keys().collect();
    assert_eq!(keys, ["a", "m", "lr", "nan", "version"]);
    assert_eq!(b.meta("lr"), Some(Value::Float(0.001)));
    assert_eq!(b.meta("version"), Some(Value::Int(-(1i128 << 64))));
    assert!(matches!(b.meta("nan"), Some(Value::Float(x)) if x.is_nan()));
    assert_eq!(
        b.meta("m").as_ref().and_then(|m| m.get("y")),
        Some(&Value::Float(1.0))
    );
    assert_eq!(
        b.tensor("labels").unwrap().elements,
        Elements::Strings(vec!["cat", "dog"])
    );
    assert_eq!(b.tensor("weight").unwrap().data(), Some(&w[..]));
    assert_eq!(
        encode_bundle(&b.tensors, &b.metadata.to_vec()).unwrap(),
        doc
    );
    assert_eq!(encode_bundle_with(&b.tensors, b.metadata).unwrap(), doc);
}

#[test]
fn encoder_rejects_what_has_no_valid_encoding() {
    let code = |r: Result<Vec<u8>, tensorcbor::Error>| r.unwrap_err().code;
    assert_eq!(
        code(encode_tensor(DType::Float32, &[3], &[0; 8])),
        ErrorCode::ShapeMismatch
    );
    assert_eq!(
        code(encode_tensor(DType::Bool, &[2], &[1, 2])),
        ErrorCode::InvalidElement
    );
    assert_eq!(
        code(encode_tensor(DType::Int4, &[3], &[0, 0x10])),
        ErrorCode::InvalidElement
    );
    assert_eq!(
        code(encode_tensor(DType::String, &[0], &[])),
        ErrorCode::ShapeMismatch
    );
    assert_eq!(
        code(encode_tensor(DType::Uint8, &[1; 33], &[0])),
        ErrorCode::RankTooLarge
    );
    assert_eq!(
        code(encode_tensor(DType::Uint8, &[1 << 32, 1 << 31, 0], &[])),
        ErrorCode::SizeOverflow
    );
    assert_eq!(
        code(encode_tensor(DType::Float64, &[1 << 61], &[])),
        ErrorCode::SizeOverflow
    );
    let t = TensorView::new(DType::Uint8, &[0], &[]);
    assert_eq!(
        code(encode_bundle(&[("", t.clone())], &[])),
        ErrorCode::InvalidName
    );
    let long = "x".repeat(4097);
    assert_eq!(
        code(encode_bundle(&[(&long, t.clone())], &[])),
        ErrorCode::InvalidName
    );
    assert!(encode_bundle(&[(&long[..4096], t.clone())], &[]).is_ok());
    assert_eq!(
        code(encode_bundle(&[("a", t.clone()), ("a", t.clone())], &[])),
        ErrorCode::DuplicateName
    );
    let dup = [("k", Value::Null), ("k", Value::Null)];
    assert_eq!(code(encode_bundle(&[], &dup)), ErrorCode::DuplicateKey);
    assert_eq!(
        code(encode_bundle(&[], &[("i", Value::Int(1i128 << 64))])),
        ErrorCode::UnsupportedValue
    );
    let mut deep = Value::Null;
    for _ in 0..MAX_NESTING {
        deep = Value::Array(vec![deep]);
    }
    assert_eq!(
        code(encode_bundle(&[], &[("d", deep.clone())])),
        ErrorCode::NestingTooDeep
    );
    let Value::Array(inner) = deep else {
        unreachable!()
    };
    assert!(encode_bundle(&[], &[("d", inner[0].clone())]).is_ok());
}

fn bundle_prefix() -> Vec<u8> {
    vec![0xd9, 0xd9, 0xf7, 0xd9, 0xcb, 0x62, 0x85, 0x01]
}

#[test]
fn deep_nesting_is_rejected_without_deep_recursion() {
    let mut doc = bundle_prefix();
    doc.extend_from_slice(&[0xa1, 0x61, b'k']);
    doc.extend_from_slice(&vec![0x81; 1_000_000]);
    doc.push(0xf6);
    doc.push(0xa0);
    let e = decode_bundle(&doc).unwrap_err();
    assert_eq!(e.code, ErrorCode::NestingTooDeep);
    assert_eq!(e.offset, 11 + 31); // the array at level 33
}

#[test]
fn claimed_lengths_are_not_trusted() {
    // A metadata array claiming 2^64-1 items, a string tensor claiming 2^52 strings, a byte string
    // claiming 2^53-1 bytes: each fails quickly on the missing bytes, without reserving memory.
    let mut doc = bundle_prefix();
    doc.extend_from_slice(&[
        0xa1, 0x61, b'k', 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ]);
    assert_eq!(decode_bundle(&doc).unwrap_err().code, ErrorCode::Truncated);
    let mut doc = vec![0xd9, 0xd9, 0xf7, 0xd9, 0xcb, 0x74, 0x84, 0x01, 0x08, 0x81];
    let huge = [0x1b, 0x00, 0x10, 0, 0, 0, 0, 0, 0];
    doc.extend_from_slice(&huge);
    doc.extend_from_slice(&[0x9b, 0x00, 0x10, 0, 0, 0, 0, 0, 0]);
    assert_eq!(decode_tensor(&doc).unwrap_err().code, ErrorCode::Truncated);
    let mut doc = vec![0xd9, 0xd9, 0xf7, 0xd9, 0xcb, 0x74, 0x84, 0x01, 0x02, 0x81];
    doc.extend_from_slice(&[0x1b, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    doc.extend_from_slice(&[
        0xd8, 0x40, 0x5b, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ]);
    let e = decode_tensor(&doc).unwrap_err();
    assert_eq!((e.code, e.offset), (ErrorCode::Truncated, 30));
}

#[test]
fn errors_carry_registry_names() {
    let e = decode_tensor(b"\xd9\xd9\xf7\xd9\xcb\x62").unwrap_err();
    assert_eq!((e.code.as_str(), e.offset), ("BAD_MAGIC", 3));
    // Display: code, offset and what exactly was wrong (the Python reference's DecodeError form); `message()`
    // is the registry's general sentence.
    assert_eq!(
        e.to_string(),
        "BAD_MAGIC at byte 3: this is a bundle document, not a tensor; read it with decode_bundle"
    );
    assert_eq!(e.message(), ErrorCode::BadMagic.message());
    assert_eq!(
        decode_tensor(b"CBOR").unwrap_err().to_string(),
        "BAD_MAGIC at byte 0: not a tensorcbor document: it must start with d9d9f7 (self-described CBOR, \
         tag 55799)"
    );
    assert_eq!(
        decode_tensor(b"\xd9\xd9").unwrap_err().code,
        ErrorCode::Truncated
    );
    assert_eq!(decode_tensor(b"").unwrap_err().code, ErrorCode::Truncated);
    assert_eq!(
        decode_tensor(b"\x00").unwrap_err().code,
        ErrorCode::BadMagic
    );
    for c in ErrorCode::ALL {
        assert_eq!(ErrorCode::from_name(c.as_str()), Some(c));
    }
    #[cfg(feature = "std")]
    {
        let _: &dyn std::error::Error = &e;
    }
}

#[test]
fn read_layout_locates_every_tensor_from_the_prefix() {
    use tensorcbor::read_layout;
    let w = f32_bytes(&[1.0, 2.0, 3.0]);
    let d: Vec<u8> = [7i64, 8].iter().flat_map(|x| x.to_le_bytes()).collect();
    let tensors = [
        ("w", TensorView::new(DType::Float32, &[3], &w)),
        ("d", TensorView::new(DType::Int64, &[2], &d)),
        ("s", TensorView::strings(&[2], vec!["a", "bc"])),
    ];
    let doc = encode_bundle(&tensors, &[("k", Value::Text("v"))]).unwrap();
    let layout = read_layout(&doc).unwrap();
    let b = decode_bundle(&doc).unwrap();
    assert_eq!(layout.len(), 3);
    for (e, (name, t)) in layout.iter().zip(&b.tensors) {
        assert_eq!((e.name, e.dtype, &e.shape), (*name, t.dtype, &t.shape));
        let range = &doc[e.offset as usize..(e.offset + e.length) as usize];
        match t.data() {
            Some(data) => {
                assert_eq!(range, data);
                assert_eq!(e.offset % t.dtype.align() as u64, 0);
            }
            None => assert_eq!(range[0], 0x82), // the string array head
        }
    }
    // Only the prefix is needed: cut just after the tensors array head.
    let first = layout.iter().map(|e| e.offset).min().unwrap() as usize;
    let base = (0..first).rev().find(|i| i % 8 == 0).unwrap();
    assert_eq!(read_layout(&doc[..base + 1]).unwrap(), layout);
    assert_eq!(
        read_layout(&doc[..base]).unwrap_err().code,
        ErrorCode::Truncated
    );
    // read_layout_to_base needs only [0, B), and ignores what follows B (the Python read_layout's contract).
    use tensorcbor::read_layout_to_base;
    assert_eq!(
        read_layout_to_base(&doc[..base]).unwrap(),
        (layout.clone(), base)
    );
    let mut bad_head = doc[..base + 1].to_vec();
    bad_head[base] = 0x00; // not an array: read_layout rejects it, the prefix [0, B) is still valid
    assert!(read_layout(&bad_head).is_err());
    assert_eq!(read_layout_to_base(&bad_head).unwrap(), (layout, base));
    assert_eq!(
        read_layout_to_base(&doc[..base - 1]).unwrap_err().code,
        ErrorCode::Truncated
    );
}

#[test]
fn block_types_cut_the_last_dimension_into_blocks() {
    let data = vec![0xa5u8; 2 * 2 * 34];
    let doc = encode_tensor(DType::Q8_0, &[2, 64], &data).unwrap();
    let t = decode_tensor(&doc).unwrap();
    assert_eq!(
        (t.dtype, &t.shape[..], t.data()),
        (DType::Q8_0, &[2u64, 64][..], Some(&data[..]))
    );
    assert_eq!(DType::Q4_0.data_len(64), Some(36));
    assert_eq!(DType::Mxfp4.data_len(32), Some(17));
    let code = |r: Result<Vec<u8>, tensorcbor::Error>| r.unwrap_err().code;
    assert_eq!(
        code(encode_tensor(DType::Q8_0, &[33], &[0; 34])),
        ErrorCode::ShapeMismatch
    );
    assert_eq!(
        code(encode_tensor(DType::Q4_0, &[], &[0; 18])),
        ErrorCode::ShapeMismatch
    );
    // The decoder rejects the shape before reading any data: change the dimension 64 to 48.
    let mut bad = doc.clone();
    let i = bad.windows(2).position(|w| w == [0x18, 64]).unwrap();
    bad[i + 1] = 48;
    let e = decode_tensor(&bad).unwrap_err();
    assert_eq!(e.code, ErrorCode::ShapeMismatch);
    assert!(e.offset < i, "reported at the shape, before the data");
    // Empty: a zero dimension elsewhere is fine, the last still counts in whole blocks.
    assert!(encode_tensor(DType::Mxfp4, &[0, 32], &[]).is_ok());
}

#[test]
fn a_tensor_head_is_the_document_before_its_element_bytes() {
    for (dtype, shape) in [
        (DType::Float32, vec![2u64, 3]),
        (DType::Float32, vec![0, 1 << 32]),
        (DType::Float64, vec![5]),
        (DType::Int4, vec![3]),
        (DType::Bool, vec![4, 1]),
        (DType::Uint8, vec![]),
        (DType::Bfloat16, vec![7, 9, 1]),
    ] {
        let n: u64 = shape.iter().product();
        let len = dtype.data_len(n).unwrap() as usize;
        let doc = encode_tensor(dtype, &shape, &vec![0u8; len]).unwrap();
        let head = encode_tensor_head(dtype, &shape).unwrap();
        assert_eq!(head, doc[..doc.len() - len], "{dtype:?} {shape:?}");
    }
    let code = |r: Result<Vec<u8>, tensorcbor::Error>| r.unwrap_err().code;
    assert_eq!(
        code(encode_tensor_head(DType::String, &[1])),
        ErrorCode::ShapeMismatch
    );
    assert_eq!(
        code(encode_tensor_head(DType::Uint8, &[1 << 32, 1 << 31, 0])),
        ErrorCode::SizeOverflow
    );
    assert_eq!(
        code(encode_tensor_head(DType::Uint8, &[1; 33])),
        ErrorCode::RankTooLarge
    );
}
