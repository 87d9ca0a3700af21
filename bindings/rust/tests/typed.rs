//! Typed access and typed encoding: the refusals are typed errors, never panics. (Values against the Python
//! reference and ml_dtypes: tests/test_binding_rust_typed.py.)
use tensorcbor::{
    decode_tensor, encode_slice, encode_tensor, DType, ErrorCode, TensorView, TensorWriter,
    ViewError,
};

/// `doc` copied to an 8-aligned buffer (`Vec<u64>`'s) at byte `shift`.
fn placed(doc: &[u8], shift: usize, words: &mut Vec<u64>) -> std::ops::Range<usize> {
    *words = vec![0u64; (doc.len() + shift).div_ceil(8)];
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words[..]);
    bytes[shift..shift + doc.len()].copy_from_slice(doc);
    shift..shift + doc.len()
}

#[test]
fn a_typed_slice_is_borrowed_from_an_aligned_buffer_and_refused_from_an_unaligned_one() {
    let values = [1.0f64, -0.0, f64::INFINITY];
    let doc = encode_slice(&[3], &values).unwrap();
    let mut words = Vec::new();
    let range = placed(&doc, 0, &mut words);
    let buf: &[u8] = &bytemuck::cast_slice(&words)[range];
    let t = decode_tensor(buf).unwrap();
    let slice = t.as_slice::<f64>().unwrap();
    assert_eq!(
        slice.as_ptr() as usize,
        t.data().unwrap().as_ptr() as usize,
        "no copy"
    );
    assert_eq!(slice, &values);

    for shift in 1..8 {
        let range = placed(&doc, shift, &mut words);
        let buf: &[u8] = &bytemuck::cast_slice(&words)[range];
        let t = decode_tensor(buf).unwrap();
        let err = t.as_slice::<f64>().unwrap_err();
        assert_eq!(err, ViewError::Unaligned { align: 8 }, "shift {shift}");
        assert_eq!(err.code(), "UNALIGNED");
        assert!(err.to_string().contains("8-aligned buffer"), "{err}");
        // The copying routes work at any alignment.
        assert_eq!(t.to_vec::<f64>().unwrap()[..2], values[..2]);
        assert!(t.to_vec::<f64>().unwrap()[1].is_sign_negative());
    }
}

#[test]
fn another_dtype_is_a_dtype_mismatch() {
    let doc = encode_slice(&[2], &[1u16, 2]).unwrap();
    let t = decode_tensor(&doc).unwrap();
    assert_eq!(t.dtype, DType::Uint16);
    let err = t.as_slice::<i16>().unwrap_err();
    assert_eq!(
        err,
        ViewError::DTypeMismatch {
            wanted: DType::Int16,
            found: DType::Uint16
        }
    );
    assert_eq!(
        err.to_string(),
        "DTYPE_MISMATCH: the tensor is uint16, not int16; check `dtype` before asking for a typed view"
    );
    assert!(t.to_vec::<f32>().is_err() && t.widen_f32().is_err());
    // A hand-built view whose bytes are not whole elements.
    let odd = [0u8; 7];
    assert_eq!(
        TensorView::new(DType::Float32, &[2], &odd).to_vec::<f32>(),
        Err(ViewError::LengthMismatch {
            wanted: 2,
            found: 1
        })
    );
    let strings = TensorView::strings(&[1], vec!["a"]);
    assert!(strings.as_slice::<u8>().is_err() && strings.widen_f32().is_err());
}

#[test]
fn bools_and_complex_numbers_have_typed_views() {
    let doc = encode_slice(&[3], &[true, false, true]).unwrap();
    assert_eq!(doc, encode_tensor(DType::Bool, &[3], &[1, 0, 1]).unwrap());
    assert_eq!(
        decode_tensor(&doc).unwrap().to_vec::<bool>().unwrap(),
        [true, false, true]
    );
    let z = [[1.0f32, -2.0], [0.5, f32::NEG_INFINITY]];
    let doc = encode_slice(&[2], &z).unwrap();
    let t = decode_tensor(&doc).unwrap();
    assert_eq!(t.dtype, DType::Complex64);
    assert_eq!(t.to_vec::<[f32; 2]>().unwrap(), z);
}

#[test]
fn widening_and_filling() {
    // bfloat16 1.0, -2.0, -0.0, inf; float16 65504 (its largest), 2^-24 (its smallest subnormal)
    let bf16 = [0x3f80u16, 0xc000, 0x8000, 0x7f80];
    let bytes: Vec<u8> = bf16.iter().flat_map(|b| b.to_le_bytes()).collect();
    let doc = encode_tensor(DType::Bfloat16, &[2, 2], &bytes).unwrap();
    let t = decode_tensor(&doc).unwrap();
    let got: Vec<f32> = t.widen_f32().unwrap().collect();
    assert_eq!(got[..2], [1.0, -2.0]);
    assert!(got[2] == 0.0 && got[2].is_sign_negative() && got[3] == f32::INFINITY);
    let mut out = [0f32; 3];
    assert_eq!(
        t.fill_f32(&mut out),
        Err(ViewError::LengthMismatch {
            wanted: 4,
            found: 3
        })
    );
    let doc = encode_tensor(DType::Float16, &[2], &[0xff, 0x7b, 0x01, 0x00]).unwrap();
    let mut out = [0f32; 2];
    decode_tensor(&doc).unwrap().fill_f32(&mut out).unwrap();
    assert_eq!(out, [65504.0, 2f32.powi(-24)]);
    // float8_e4m3fn: 0x7e is 448 (its largest), 0x7f NaN; float4_e2m1fn packed low nibble first
    let doc = encode_tensor(DType::Float8E4m3fn, &[2], &[0x7e, 0x7f]).unwrap();
    let v: Vec<f32> = decode_tensor(&doc).unwrap().widen_f32().unwrap().collect();
    assert!(v[0] == 448.0 && v[1].is_nan());
    let doc = encode_tensor(DType::Float4E2m1fn, &[3], &[0x21, 0x0f]).unwrap();
    let v: Vec<f32> = decode_tensor(&doc).unwrap().widen_f32().unwrap().collect();
    assert_eq!(v, [0.5, 1.0, -6.0]);
}

#[test]
fn encoders_check_what_they_are_given() {
    let err = encode_slice(&[2, 2], &[1.0f32, 2.0, 3.0]).unwrap_err();
    assert_eq!((err.code, err.offset), (ErrorCode::ShapeMismatch, 0));
    assert_eq!(
        err.to_string(),
        "SHAPE_MISMATCH at byte 0: shape [2, 2] of float32 needs 16 data bytes, found 12"
    );
    assert_eq!(
        TensorWriter::new(DType::String, &[1]).unwrap_err().code,
        ErrorCode::ShapeMismatch
    );
    assert_eq!(
        TensorWriter::new(DType::Float32, &[1 << 40, 1 << 20])
            .unwrap_err()
            .code,
        ErrorCode::SizeOverflow
    );
}

#[test]
fn a_tensor_writer_fills_in_place_and_checks_elements_when_finished() {
    let mut w = TensorWriter::new(DType::Int64, &[2, 3]).unwrap();
    w.elements_mut::<i64>()
        .unwrap()
        .iter_mut()
        .enumerate()
        .for_each(|(i, x)| *x = i as i64 - 3);
    assert!(w.elements_mut::<u64>().is_err());
    let doc = w.finish().unwrap();
    assert_eq!(
        doc,
        encode_slice(&[2, 3], &[-3i64, -2, -1, 0, 1, 2]).unwrap()
    );

    // Bytes written by hand are checked: a bool byte 2 is INVALID_ELEMENT at its offset in the document.
    let mut w = TensorWriter::new(DType::Bool, &[4]).unwrap();
    w.data_mut()[2] = 2;
    let err = w.finish().unwrap_err();
    let doc = encode_tensor(DType::Bool, &[4], &[0, 0, 0, 0]).unwrap();
    assert_eq!(
        (err.code, err.offset),
        (ErrorCode::InvalidElement, doc.len() - 4 + 2)
    );
    assert!(err
        .to_string()
        .ends_with("bool element 2 is 0x02; only 0x00 and 0x01 are allowed"));
    // Packed types: the unused tail bits must stay zero.
    let mut w = TensorWriter::new(DType::Uint4, &[3]).unwrap();
    w.data_mut()[1] = 0xf0;
    assert_eq!(w.finish().unwrap_err().code, ErrorCode::InvalidElement);
}

/// The README lists every `DType` variant name (a new dtype must be documented there).
#[test]
fn readme_lists_every_dtype_variant() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let at = readme
        .find("**`DType` variants**")
        .expect("the variants paragraph");
    let para = &readme[at..at + readme[at..].find("\n\n").unwrap()];
    // After the heading's parenthesis: the names, each in backquotes.
    let names = para.split_once("): ").expect("heading, then the list").1;
    let listed: Vec<&str> = names.split('`').skip(1).step_by(2).collect();
    let variants: Vec<String> = DType::ALL.iter().map(|d| format!("{d:?}")).collect();
    assert_eq!(listed, variants);
}
