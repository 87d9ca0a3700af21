"""NumPy .npy and .npz files ⇄ tensors, never unpickling (allow_pickle=False always).

.npy files are memory-mapped. NumPy has no .npy spelling for ml_dtypes types
(it writes bfloat16 as void ``V2``), so writing them is refused and void arrays
are refused on reading: use .tcb or .safetensors for those.
"""

from __future__ import annotations

import os
import zipfile
from typing import Any

import numpy as np

from ..dtypes import from_numpy
from ..errors import DecodeError, EncodeError
from ._common import Tensors, check_name

__all__ = ["load_npy", "save_npy", "load_npz", "save_npz", "data_offset"]


def _checked(arr: Any, where: str) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise DecodeError("UNEXPECTED_TYPE", f"{where} does not hold an array")
    if arr.dtype.kind == "U":
        return arr.astype(np.dtypes.StringDType())
    if from_numpy(arr.dtype) is None:
        raise DecodeError("UNKNOWN_DTYPE", f"{where} has dtype {arr.dtype}, which tensorcbor cannot store"
                          + (" (ml_dtypes arrays lose their type in .npy)" if arr.dtype.kind == "V" else ""))
    return arr


def _load(source: Any, where: str, **kwargs: Any) -> Any:
    try:
        return np.load(source, allow_pickle=False, **kwargs)
    except ValueError as exc:  # pickled object arrays, bad headers
        code = "UNKNOWN_DTYPE" if "pickle" in str(exc) or "Python objects" in str(exc) else "MALFORMED"
        raise DecodeError(code, f"{where}: {exc}") from None
    except (EOFError, zipfile.BadZipFile) as exc:
        raise DecodeError("TRUNCATED", f"{where}: {exc}") from None


def load_npy(path: str | os.PathLike[str]) -> Tensors:
    """A .npy file as a single tensor (memory-mapped when it has data)."""
    arr = _load(path, str(path), mmap_mode="r")
    return Tensors({"tensor": _checked(arr, str(path))}, single=True)


def load_npz(path: str | os.PathLike[str]) -> Tensors:
    """A .npz archive as a bundle; member names lose their .npy suffix, as numpy names them."""
    arrays: dict[str, np.ndarray] = {}
    with _load(path, str(path)) as npz:
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise DecodeError("MALFORMED", f"{path} is not a .npz archive")
        for name in npz.files:
            arrays[check_name(name, str(path))] = _checked(_load_member(npz, name, path), f"{path}:{name}")
    return Tensors(arrays)


def _load_member(npz: Any, name: str, path: Any) -> Any:
    try:
        return npz[name]
    except ValueError as exc:
        raise DecodeError("UNKNOWN_DTYPE" if "pickle" in str(exc) else "MALFORMED", f"{path}:{name}: {exc}") from None


def _writable(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.dtype.kind == "T":
        width = max((len(x) for x in arr.reshape(-1).tolist()), default=1)
        return arr.astype(f"U{max(width, 1)}")
    if arr.dtype.kind == "V":
        raise EncodeError(f"tensor {name!r} is {arr.dtype.name}, which .npy cannot tag (numpy would write void "
                          "'V' bytes); keep it in .tcb or .safetensors")
    return arr


def save_npy(t: Tensors, path: str | os.PathLike[str]) -> None:
    """Write one tensor as .npy."""
    arr = _writable(np.asarray(t.only()), "tensor")
    with open(path, "wb") as f:
        np.lib.format.write_array(f, arr, allow_pickle=False)


def save_npz(t: Tensors, path: str | os.PathLike[str]) -> None:
    """Write tensors as an uncompressed .npz (bundle metadata has no place there and is refused)."""
    if t.metadata:
        raise EncodeError(".npz has no place for bundle metadata; write .tcb or .safetensors, or drop it "
                          "(tensorcbor convert --drop-metadata)")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in t.arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, _writable(np.asarray(arr), name), allow_pickle=False)


def data_offset(path: str | os.PathLike[str]) -> int:
    """Where a .npy file's element bytes start."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(f)
        else:
            np.lib.format.read_array_header_2_0(f)
        return f.tell()
