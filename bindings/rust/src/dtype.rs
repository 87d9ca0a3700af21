//! The dtype table of SPEC.md §3. The enum and its rows are generated from the Python reference's table
//! (`src/tensorcbor/dtypes.py`) by `scripts/gen_bindings.py` into `dtype_table.rs`; a unit test checks them
//! against SPEC.md too.

pub use crate::dtype_table::DType;
use crate::dtype_table::{from_code, row, ALL};

impl DType {
    /// Every dtype, in code order.
    pub const ALL: [DType; ALL.len()] = ALL;

    /// The dtype with this wire code, or `None` for an unassigned or reserved code (`UNKNOWN_DTYPE`).
    pub const fn from_code(code: u64) -> Option<DType> {
        from_code(code)
    }

    /// The dtype with this name (`"float32"`, `"float8_e4m3fn"`, ...).
    pub fn from_name(name: &str) -> Option<DType> {
        Self::ALL.iter().copied().find(|d| d.name() == name)
    }

    /// The wire code (at most 65535, SPEC.md §3).
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The name of SPEC.md §3.
    pub const fn name(self) -> &'static str {
        row(self).name
    }

    /// The kind of SPEC.md §3: `bool`, `uint`, `int`, `float`, `complex`, `string` or `block`.
    pub const fn kind(self) -> &'static str {
        row(self).kind
    }

    /// Width of one element on the wire in bits; `None` for `string` (variable) and block types (per block).
    pub const fn bits(self) -> Option<u32> {
        match row(self).bits {
            0 => None,
            b => Some(b),
        }
    }

    /// Block types (SPEC.md §4.6): `(elements, bytes)` per block.
    pub const fn block(self) -> Option<(u64, u64)> {
        row(self).block
    }

    /// Alignment of the element bytes relative to the document start (SPEC.md §4.3).
    pub const fn align(self) -> usize {
        row(self).align
    }

    /// The RFC 8746 typed-array tag that wraps the element bytes, if any.
    pub const fn rfc8746_tag(self) -> Option<u64> {
        row(self).tag
    }

    /// Whether elements are packed below one byte (2, 4 or 6 bits, SPEC.md §4.4).
    pub const fn is_packed(self) -> bool {
        matches!(self.bits(), Some(b) if b < 8)
    }

    /// The data length of `n` elements, `ceil(n * bits / 8)` (`n / elements * bytes` for a block type, whose
    /// `n` the shape rule makes a multiple of the block size); `None` for `string`.
    pub fn data_len(self, n: u64) -> Option<u128> {
        if let Some((elems, bytes)) = self.block() {
            return Some(n as u128 / elems as u128 * bytes as u128);
        }
        self.bits().map(|b| (n as u128 * b as u128).div_ceil(8))
    }

    /// Whether `shape` satisfies the block rule of SPEC.md §4.6 (always true for non-block types): rank >= 1 and
    /// the last dimension a multiple of the block size.
    pub fn shape_ok(self, shape: &[u64]) -> bool {
        match self.block() {
            Some((elems, _)) => shape.last().is_some_and(|&d| d % elems == 0),
            None => true,
        }
    }
}

impl core::fmt::Display for DType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::DType;
    use std::string::{String, ToString};
    use std::vec::Vec;

    /// The body rows (cells trimmed of spaces and backquotes) of SPEC.md's generated markdown table `name`.
    fn generated_table(spec: &str, name: &str) -> Vec<Vec<String>> {
        let begin = std::format!("<!-- BEGIN GENERATED: {name} -->");
        let end = std::format!("<!-- END GENERATED: {name} -->");
        let start = spec.find(&begin).expect("begin marker");
        let stop = spec.find(&end).expect("end marker");
        spec[start..stop]
            .lines()
            .filter(|l| l.starts_with('|'))
            .skip(2) // header and alignment row
            .map(|l| {
                l.trim_matches('|')
                    .split('|')
                    .map(|c| c.trim().trim_matches('`').to_string())
                    .collect()
            })
            .collect()
    }

    /// SPEC.md's generated dtype table and this module must agree (code, name, bits, align, tag).
    #[test]
    fn table_matches_spec() {
        let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../SPEC.md"))
            .expect("SPEC.md two directories up");
        let rows = generated_table(&spec, "dtypes");
        assert_eq!(rows.len(), DType::ALL.len(), "row count");
        for (row, d) in rows.iter().zip(DType::ALL) {
            let bits = match (d.bits(), d.block()) {
                (Some(b), _) => b.to_string(),
                (None, Some(_)) => "—".to_string(),
                (None, None) => "var".to_string(),
            };
            let tag = d.rfc8746_tag().map_or("—".to_string(), |t| t.to_string());
            let mine = [
                d.code().to_string(),
                d.name().to_string(),
                d.kind().to_string(),
                bits,
                d.align().to_string(),
                tag,
            ];
            assert_eq!(&row[..6], &mine[..], "dtype {d}");
            assert_eq!(DType::from_code(d.code() as u64), Some(d));
            assert_eq!(DType::from_name(d.name()), Some(d));
        }
        // the block-type table of SPEC.md §4.6: code, name, elements, bytes, align
        let blocks = generated_table(&spec, "dtype-blocks");
        let mine: Vec<DType> = DType::ALL
            .iter()
            .copied()
            .filter(|d| d.block().is_some())
            .collect();
        assert_eq!(blocks.len(), mine.len());
        for (row, d) in blocks.iter().zip(mine) {
            let (e, b) = d.block().unwrap();
            let want = [
                d.code().to_string(),
                d.name().to_string(),
                e.to_string(),
                b.to_string(),
                d.align().to_string(),
            ];
            assert_eq!(&row[..5], &want[..], "block dtype {d}");
        }
        assert_eq!(DType::from_code(0), None);
        assert_eq!(DType::from_code(29), None);
        for reserved in [65536u64, 1 << 32, u64::MAX, 1023, 1024, 65535] {
            assert_eq!(DType::from_code(reserved), None);
        }
    }

    #[test]
    fn block_types_data_length_and_shape_rule() {
        let q8 = DType::from_name("q8_0").unwrap();
        assert_eq!(
            (q8.code(), q8.block(), q8.bits(), q8.align()),
            (161, Some((32, 34)), None, 2)
        );
        assert_eq!(q8.data_len(64), Some(68));
        assert!(q8.shape_ok(&[2, 64]) && q8.shape_ok(&[0, 32]) && q8.shape_ok(&[3, 0]));
        assert!(!q8.shape_ok(&[]) && !q8.shape_ok(&[31]) && !q8.shape_ok(&[32, 16]));
        assert!(DType::Float32.shape_ok(&[]));
        let doc = crate::encode_tensor(q8, &[32], &[0u8; 34]).unwrap();
        let t = crate::decode_tensor(&doc).unwrap();
        assert_eq!(
            (t.dtype, &t.shape[..], t.data().map(<[u8]>::len)),
            (q8, &[32u64][..], Some(34))
        );
        let err = crate::encode_tensor(q8, &[16], &[0u8; 34]).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::ShapeMismatch);
        let c32 = DType::from_name("complex32").unwrap();
        assert_eq!((c32.code(), c32.bits(), c32.align()), (131, Some(32), 2));
    }
}
