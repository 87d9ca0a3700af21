//! `tensorcbor._native`: the strict bundle checks of the no_std `tensorcbor` crate, for the Python package.
//!
//! `index_bundle` either returns an [`Index`] of a bundle that passed every check, or raises
//! `Rejected(code, offset)`: the crate's verdict, the same code and offset as the pure-Python reference
//! (the differential fuzzer compares them), which `tensorcbor.accel` reports as a `DecodeError`.
//!
//! Two rules at the boundary. The crate reads a private copy of any buffer whose owner may write it while
//! the crate runs (a bytearray, a numpy array, a writable mmap: another thread may write them with the GIL
//! released); only `bytes` and read-only mmaps are read in place. And no panic crosses into Python: every
//! entry point runs under `catch_unwind`, and a panic becomes `Panicked` (a `RuntimeError`), on which the
//! package lets the reference judge.
//!
//! The index keeps the directory in a few flat vectors and builds Python objects only when asked: opening a
//! bundle of 20,000 tensors to read one builds one tuple, not 20,000.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::buffer::PyBuffer;
use pyo3::create_exception;
use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyMemoryView, PyString, PyTuple};
use tensorcbor::{index_bundle as check_bundle, read_layout_to_base as layout_of, DType, Elements};

create_exception!(
    _native,
    Rejected,
    PyValueError,
    "The crate rejected the input: args are (registry code, byte offset)."
);
create_exception!(
    _native,
    Panicked,
    PyRuntimeError,
    "The compiled reader panicked (a bug in it): the caller lets the reference judge the input."
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
#[pyclass(frozen, module = "tensorcbor._native")]
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
    /// The metadata map as Python values (dict, list, str, bytes, int, float, bool, None), built from the
    /// very bytes the crate checked.
    #[pyo3(get)]
    metadata: Py<PyDict>,
    /// Whether the buffer starts at a multiple of 8 in memory, so every element array is aligned for its dtype.
    #[pyo3(get)]
    aligned: bool,
    /// Whether the crate read a private copy (the caller's buffer may be written by others).
    #[pyo3(get)]
    copied: bool,
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

    /// The names of the non-empty tensors whose dtype code is in `codes`, in wire order (the caller passes the
    /// codes with element checks: an empty tensor has no elements to check).
    fn names_of<'py>(&self, py: Python<'py>, codes: Vec<u16>) -> PyResult<Bound<'py, PyList>> {
        let names: Vec<_> = self
            .entries
            .iter()
            .filter(|e| e.count > 0 && codes.contains(&e.code))
            .map(|e| PyString::new(py, self.name(e)))
            .collect();
        PyList::new(py, names)
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
    with_bytes(data, |bytes, at| {
        index_of(data.py(), bytes, at, check_elements)
    })
}

fn index_of(
    py: Python<'_>,
    bytes: &[u8],
    at: Source,
    check_elements: bool,
) -> PyResult<Option<Index>> {
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
    let metadata = match to_python(py, &mut Cursor { buf: meta, pos: 0 })?.cast_into::<PyDict>() {
        Ok(map) => map.unbind(),
        Err(_) => return Err(PyValueError::new_err("the metadata is not a map")),
    };
    Ok(Some(Index {
        metadata,
        names,
        dims,
        entries,
        base: found.base,
        metadata_start,
        metadata_end: metadata_start + meta.len(),
        aligned: at.address.is_multiple_of(8),
        copied: at.copied,
    }))
}

/// The layout of a bundle from a prefix of it (the crate's `read_layout_to_base`: every check of the prefix
/// `[0, B)`, nothing after it read): `[(name, dtype, shape, offset, length, None)]`, offsets absolute, `dtype` the
/// value of `dtypes[code]` (so the rows are the fields of the Python `LayoutEntry`). Raises
/// `Rejected(code, offset)` (`TRUNCATED` for a prefix that is too short) and `TypeError` as `index_bundle`.
#[pyfunction]
fn read_layout<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    dtypes: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyList>> {
    with_bytes(data, |bytes, _| rows_of(py, bytes, dtypes))
}

fn rows_of<'py>(
    py: Python<'py>,
    bytes: &[u8],
    dtypes: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyList>> {
    let (entries, _) = layout_of(bytes).map_err(rejected)?;
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

/// A read position in metadata the crate has checked (deterministic heads, no tags, text keys).
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn bytes(&mut self, n: u64) -> PyResult<&[u8]> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.pos.checked_add(n))
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| PyValueError::new_err("metadata ends early"))?;
        let got = &self.buf[self.pos..end];
        self.pos = end;
        Ok(got)
    }

    /// (major type, additional info, argument) of the next head.
    fn head(&mut self) -> PyResult<(u8, u8, u64)> {
        let b = self.bytes(1)?[0];
        let (major, info) = (b >> 5, b & 31);
        let arg = match info {
            0..=23 => u64::from(info),
            24..=27 => {
                let n = 1usize << (info - 24);
                self.bytes(n as u64)?
                    .iter()
                    .fold(0u64, |v, &x| (v << 8) | u64::from(x))
            }
            _ => return Err(PyValueError::new_err("unexpected head in checked metadata")),
        };
        Ok((major, info, arg))
    }
}

/// The Python value of the item at `c` (SPEC.md §6.1 data model), as the reference reader builds it.
fn to_python<'py>(py: Python<'py>, c: &mut Cursor<'_>) -> PyResult<Bound<'py, PyAny>> {
    let (major, info, arg) = c.head()?;
    Ok(match major {
        0 => arg.into_pyobject(py)?.into_any(),
        1 => (-1 - i128::from(arg)).into_pyobject(py)?.into_any(),
        2 => PyBytes::new(py, c.bytes(arg)?).into_any(),
        3 => PyString::new(py, text(c.bytes(arg)?)?).into_any(),
        4 => {
            let list = PyList::empty(py);
            for _ in 0..arg {
                list.append(to_python(py, c)?)?;
            }
            list.into_any()
        }
        5 => {
            let map = presized_dict(py, arg)?;
            for _ in 0..arg {
                let (kmajor, _, klen) = c.head()?;
                if kmajor != 3 {
                    return Err(PyValueError::new_err("a metadata key is not text"));
                }
                let key = PyString::new(py, text(c.bytes(klen)?)?);
                map.set_item(key, to_python(py, c)?)?;
            }
            map.into_any()
        }
        7 => match (info, arg) {
            (20, _) => false.into_pyobject(py)?.to_owned().into_any(),
            (21, _) => true.into_pyobject(py)?.to_owned().into_any(),
            (22, _) => py.None().into_bound(py),
            (25, h) => f16_to_f64(h as u16).into_pyobject(py)?.into_any(),
            (26, f) => f64::from(f32::from_bits(f as u32))
                .into_pyobject(py)?
                .into_any(),
            (27, d) => f64::from_bits(d).into_pyobject(py)?.into_any(),
            _ => {
                return Err(PyValueError::new_err(
                    "unexpected simple value in checked metadata",
                ))
            }
        },
        _ => return Err(PyValueError::new_err("unexpected item in checked metadata")),
    })
}

/// An empty dict with room for `n` entries: a 16 MiB map of tiny entries (1.7 million keys) then needs no
/// rehash while it is filled, a third of the time of building it.
fn presized_dict(py: Python<'_>, n: u64) -> PyResult<Bound<'_, PyDict>> {
    // The crate checked the map: n entries of at least 2 bytes each fit in 16 MiB, so n fits an isize.
    let n = pyo3::ffi::Py_ssize_t::try_from(n).unwrap_or(0);
    // SAFETY: `_PyDict_NewPresized` returns a new reference to a dict (or NULL with an exception set, which
    // `from_owned_ptr_or_err` turns into the error); we hold the GIL.
    let dict = unsafe { Bound::from_owned_ptr_or_err(py, pyo3::ffi::_PyDict_NewPresized(n))? };
    dict.cast_into::<PyDict>().map_err(PyErr::from)
}

fn text(bytes: &[u8]) -> PyResult<&str> {
    std::str::from_utf8(bytes).map_err(|_| PyValueError::new_err("metadata text is not UTF-8"))
}

/// IEEE 754 binary16 to binary64, exactly (subnormals, infinities and NaN included).
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f64::from(h & 0x3ff);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + frac / 1024.0) * 2f64.powi(exp - 15),
    }
}

/// Where the bytes `f` reads came from.
#[derive(Clone, Copy)]
struct Source {
    /// The caller's buffer address (alignment is of the caller's buffer, whose views the package hands out).
    address: usize,
    copied: bool,
}

/// Run `f` on the bytes of a contiguous Python buffer (bytes, bytearray, memoryview, mmap, numpy array), under
/// `catch_unwind`: a panic becomes `Panicked`, never a `PanicException` (a BaseException) in Python.
///
/// `f` reads the caller's memory in place only when no one can write it meanwhile: `bytes`, or a read-only
/// mmap (another process writing the mapped file is outside any reader's control; `load_file` documents it).
/// Any other buffer (bytearray, numpy array, writable mmap, memoryviews of them) may be written by another
/// thread that released the GIL (numpy's copyto does), so `f` reads a private copy of it.
fn with_bytes<R>(
    data: &Bound<'_, PyAny>,
    f: impl FnOnce(&[u8], Source) -> PyResult<R>,
) -> PyResult<R> {
    let buffer = PyBuffer::<u8>::get(data)?;
    if !buffer.is_c_contiguous() {
        return Err(PyTypeError::new_err("a contiguous byte buffer is required"));
    }
    let address = buffer.buf_ptr() as usize;
    let copy = if immutable(data)? {
        None
    } else {
        Some(buffer.to_vec(data.py())?)
    };
    let at = Source {
        address,
        copied: copy.is_some(),
    };
    let run = AssertUnwindSafe(|| match &copy {
        Some(owned) => f(owned, at),
        None => {
            // SAFETY: `buffer` holds an export of `data` until this function returns, so the memory stays
            // allocated (an mmap cannot be closed meanwhile), and `immutable` proved that no one writes it:
            // `bytes` never change, and a read-only mmap has no writable mapping in this process. The slice
            // cannot escape `f`: its lifetime is that call's.
            let bytes: &[u8] = unsafe {
                std::slice::from_raw_parts(buffer.buf_ptr() as *const u8, buffer.len_bytes())
            };
            f(bytes, at)
        }
    });
    catch_unwind(run).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Panicked::new_err(why))
    })
}

/// Whether no one can write `data`'s memory: `bytes`, a read-only mmap, or a memoryview of either.
fn immutable(data: &Bound<'_, PyAny>) -> PyResult<bool> {
    let owner = if data.is_exact_instance_of::<PyMemoryView>() {
        data.getattr("obj")?
    } else {
        data.clone()
    };
    if owner.is_exact_instance_of::<PyBytes>() {
        return Ok(true);
    }
    let mmap = data.py().import("mmap")?.getattr("mmap")?;
    Ok(owner.get_type().is(&mmap) && PyBuffer::<u8>::get(&owner)?.readonly())
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
    m.add("Panicked", m.py().get_type::<Panicked>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("FORMAT_VERSION", tensorcbor::FORMAT_VERSION)?;
    m.add("SPEC_VERSION", tensorcbor::SPEC_VERSION)?;
    Ok(())
}
