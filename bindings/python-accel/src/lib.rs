//! `tensorcbor_accel._native`: the strict bundle checks of the no_std `tensorcbor` crate, for the Python package.
//!
//! The pure-Python reference stays the judge of every rejection: `index_bundle` either returns an [`Index`] of
//! a bundle that passed every check, or raises `Rejected`, after which the Python package re-reads the input
//! with its reference parser, which reports the error. So this module can make valid bundles fast, and can
//! never change an error code or message.
//!
//! The index keeps the directory in a few flat vectors and builds Python objects only when asked: opening a
//! bundle of 20,000 tensors to read one builds one tuple, not 20,000.

use pyo3::buffer::PyBuffer;
use pyo3::create_exception;
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use tensorcbor::{index_bundle as check_bundle, read_layout as layout_of, DType, Elements};

create_exception!(
    _native,
    Rejected,
    PyValueError,
    "The crate rejected the input: args are (registry code, byte offset)."
);

/// One directory entry, with its name and dimensions kept in the index's shared vectors.
struct Entry {
    name_start: usize,
    name_len: usize,
    dims_start: usize,
    rank: usize,
    code: u16,
    count: u64,
    /// Of the element bytes, from the document start.
    offset: usize,
    length: usize,
}

/// The checked directory of a bundle, in wire order (names sorted by their encoding: length, then bytes).
#[pyclass(frozen, module = "tensorcbor_accel._native")]
struct Index {
    names: Vec<u8>,
    dims: Vec<u64>,
    entries: Vec<Entry>,
    /// `B`, the tensors array head's offset.
    #[pyo3(get)]
    base: usize,
    /// Where the metadata map's encoding starts and ends.
    #[pyo3(get)]
    metadata_start: usize,
    #[pyo3(get)]
    metadata_end: usize,
    /// Whether the buffer starts at a multiple of 8 in memory, so every element array is aligned for its dtype.
    #[pyo3(get)]
    aligned: bool,
}

impl Index {
    fn name(&self, e: &Entry) -> &str {
        // Names were copied from `&str`s at whole-name boundaries, so each range is valid UTF-8.
        std::str::from_utf8(&self.names[e.name_start..e.name_start + e.name_len]).unwrap_or("")
    }

    /// Binary search in wire order: shorter encodings first, then bytewise (a name's head grows with its length).
    fn find(&self, name: &str) -> Option<&Entry> {
        let key = name.as_bytes();
        self.entries
            .binary_search_by(|e| {
                let have = &self.names[e.name_start..e.name_start + e.name_len];
                (have.len(), have).cmp(&(key.len(), key))
            })
            .ok()
            .map(|k| &self.entries[k])
    }
}

type Info<'py> = (u16, Bound<'py, PyTuple>, u64, usize, usize);

#[pymethods]
impl Index {
    fn __len__(&self) -> usize {
        self.entries.len()
    }

    fn __contains__(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// `(dtype_code, shape, count, offset, length)` of the tensor called `name`, or `None`; `offset` is of the
    /// element bytes from the document start, `count` the element count (0 when a dimension is 0).
    fn get<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Option<Info<'py>>> {
        let Some(e) = self.find(name) else {
            return Ok(None);
        };
        let shape = PyTuple::new(py, &self.dims[e.dims_start..e.dims_start + e.rank])?;
        Ok(Some((e.code, shape, e.count, e.offset, e.length)))
    }

    /// Every name, in wire order.
    fn names<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(
            py,
            self.entries.iter().map(|e| PyString::new(py, self.name(e))),
        )
    }

    /// `(name, dtype_code, shape, offset, length)` of every tensor, in wire order.
    fn layout<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let mut rows = Vec::with_capacity(self.entries.len());
        for e in &self.entries {
            let shape = PyTuple::new(py, &self.dims[e.dims_start..e.dims_start + e.rank])?;
            rows.push((self.name(e), e.code, shape, e.offset, e.length));
        }
        PyList::new(py, rows)
    }
}

/// Check a whole bundle (SPEC.md §7.1; the element checks of §7.2 too when `check_elements`) and index it.
///
/// Returns `None` for a valid bundle holding a `string` tensor (the index does not hold strings), raises
/// `Rejected(code, offset)` for an invalid one and `TypeError` for a buffer that is not contiguous bytes.
#[pyfunction]
fn index_bundle(data: &Bound<'_, PyAny>, check_elements: bool) -> PyResult<Option<Index>> {
    with_bytes(data, |bytes| index_of(bytes, check_elements))
}

fn index_of(bytes: &[u8], check_elements: bool) -> PyResult<Option<Index>> {
    let found = check_bundle(bytes, check_elements).map_err(rejected)?;
    let start = bytes.as_ptr() as usize;
    let n = found.tensors.len();
    let mut names = Vec::with_capacity(found.tensors.iter().map(|(s, _)| s.len()).sum());
    let mut dims = Vec::with_capacity(n * 2);
    let mut entries = Vec::with_capacity(n);
    for (name, t) in &found.tensors {
        let Elements::Bytes(data) = t.elements else {
            return Ok(None);
        };
        if t.dtype == DType::String {
            return Ok(None);
        }
        entries.push(Entry {
            name_start: names.len(),
            name_len: name.len(),
            dims_start: dims.len(),
            rank: t.shape.len(),
            code: t.dtype.code(),
            count: if t.is_empty() { 0 } else { t.len() },
            offset: data.as_ptr() as usize - start,
            length: data.len(),
        });
        names.extend_from_slice(name.as_bytes());
        dims.extend_from_slice(&t.shape);
    }
    let meta = found.metadata.as_bytes();
    let metadata_start = meta.as_ptr() as usize - start;
    Ok(Some(Index {
        names,
        dims,
        entries,
        base: found.base,
        metadata_start,
        metadata_end: metadata_start + meta.len(),
        aligned: start.is_multiple_of(8),
    }))
}

/// The layout of a bundle from a prefix of it (the crate's `read_layout`: every check up to the tensors array
/// head, nothing after it read): `[(name, dtype, shape, offset, length, None)]`, offsets absolute, `dtype` the
/// value of `dtypes[code]` (so the rows are the fields of the Python `LayoutEntry`). Raises
/// `Rejected(code, offset)` (`TRUNCATED` for a prefix that is too short) and `TypeError` as `index_bundle`.
#[pyfunction]
fn read_layout<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    dtypes: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyList>> {
    with_bytes(data, |bytes| rows_of(py, bytes, dtypes))
}

fn rows_of<'py>(
    py: Python<'py>,
    bytes: &[u8],
    dtypes: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyList>> {
    let entries = layout_of(bytes).map_err(rejected)?;
    let mut rows = Vec::with_capacity(entries.len());
    let mut last: Option<(u16, Bound<'py, PyAny>)> = None;
    for e in &entries {
        let code = e.dtype.code();
        let dtype = match &last {
            Some((c, d)) if *c == code => d.clone(),
            _ => {
                let d = dtypes
                    .get_item(code)?
                    .ok_or_else(|| PyKeyError::new_err(code))?;
                last = Some((code, d.clone()));
                d
            }
        };
        rows.push((
            e.name,
            dtype,
            PyTuple::new(py, &e.shape)?,
            e.offset,
            e.length,
            py.None(),
        ));
    }
    PyList::new(py, rows)
}

/// Run `f` on the bytes of a contiguous Python buffer (bytes, bytearray, memoryview, mmap).
fn with_bytes<R>(data: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> PyResult<R>) -> PyResult<R> {
    let buffer = PyBuffer::<u8>::get(data)?;
    if !buffer.is_c_contiguous() {
        return Err(PyTypeError::new_err("a contiguous byte buffer is required"));
    }
    // SAFETY: `buffer` holds an export of `data` until this function returns, so the memory stays allocated
    // and a bytearray cannot be resized (nor an mmap closed) meanwhile. The GIL is held throughout and the
    // crate's checks allocate no Python object, so no Python code (not even a finalizer run by the collector)
    // can write to the buffer while they read it; `read_layout` copies names into Python strings only after
    // them, with the collector paused by its caller. Another process writing a shared file mapping is outside
    // any reader's control, as for every mmap reader (tensorcbor.load_file documents the hazard). The slice
    // cannot escape `f`: its lifetime is that call's.
    let bytes: &[u8] =
        unsafe { std::slice::from_raw_parts(buffer.buf_ptr() as *const u8, buffer.len_bytes()) };
    f(bytes)
}

/// The crate's error as `Rejected(code, offset)`.
fn rejected(e: tensorcbor::Error) -> PyErr {
    Rejected::new_err((e.code.as_str(), e.offset))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(index_bundle, m)?)?;
    m.add_function(wrap_pyfunction!(read_layout, m)?)?;
    m.add_class::<Index>()?;
    m.add("Rejected", m.py().get_type::<Rejected>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("FORMAT_VERSION", tensorcbor::FORMAT_VERSION)?;
    m.add("SPEC_VERSION", tensorcbor::SPEC_VERSION)?;
    Ok(())
}
