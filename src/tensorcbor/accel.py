"""The optional compiled accelerator: bundle checks in the Rust crate, errors from the reference.

``pip install ./bindings/python-accel`` (needs cargo) installs ``tensorcbor_accel``, the
no_std Rust crate of bindings/rust behind PyO3. When it is importable, states this
package's format and SPEC.md versions, and TENSORCBOR_NO_ACCEL is unset or empty, the
bundle readers (``decode_bundle``, ``load_file``, ``parse_bundle``) check a strict
bundle in one native call, which keeps the directory in Rust (``NativeInfos`` asks it
for one tensor at a time), and ``read_layout`` reads a prefix the same way. It only ever
accepts: on any rejection the caller re-reads the input with the pure-Python reference
parser, which alone reports error codes, offsets and messages. Without it everything
runs in Python, with the same results (tests/test_accel.py and the differential fuzzer
compare the two paths).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any

from .dtypes import BY_CODE
from .tensor import _BIG_ENDIAN_HOST, TensorInfo, plain_view
from .versions import FORMAT_VERSION, SPEC_VERSION

__all__ = ["available", "status", "index_bundle", "read_layout", "use", "NativeInfos"]

ENV_DISABLE = "TENSORCBOR_NO_ACCEL"


def _load() -> tuple[ModuleType | None, str]:
    if os.environ.get(ENV_DISABLE):
        return None, f"off ({ENV_DISABLE} is set): pure Python"
    try:
        import tensorcbor_accel as native
    except ImportError:
        return None, "not installed: pure Python (pip install ./bindings/python-accel for the Rust reader)"
    states = (getattr(native, "FORMAT_VERSION", None), getattr(native, "SPEC_VERSION", None))
    if states != (FORMAT_VERSION, SPEC_VERSION):
        return None, (f"tensorcbor-accel {getattr(native, '__version__', '?')} implements format {states[0]} / "
                      f"SPEC.md {states[1]}, this package {FORMAT_VERSION} / {SPEC_VERSION}: not used, pure Python "
                      "(reinstall it from this package's bindings/python-accel)")
    return native, f"tensorcbor-accel {native.__version__} (Rust, SPEC.md {native.SPEC_VERSION})"


_native, _status = _load()
_on = _native is not None


def available() -> bool:
    """Whether bundle checks run in the compiled accelerator now."""
    return _on


def status() -> str:
    """One line for ``tensorcbor --version`` and bug reports: which reader checks bundles, and why."""
    return _status if _on or _native is None else "off (tensorcbor.accel.use(False)): pure Python"


def use(on: bool) -> bool:
    """Turn the accelerator on or off for this process (tests compare both paths); returns the previous setting.
    Turning it on without it installed does nothing."""
    global _on
    was = _on
    _on = on and _native is not None
    return was


def index_bundle(buf: Any, check_elements: bool) -> Any:
    """The native index (``tensorcbor_accel.Index``) of a strict bundle that passed every check of SPEC.md §7.1
    (and §7.2 when `check_elements`), or None: rejected, holding what the index cannot (a string tensor), or no
    accelerator. None means: let the reference parser judge."""
    return _accepted(lambda native: native.index_bundle(buf, check_elements))


def read_layout(buf: Any) -> list[Any] | None:
    """A strict bundle's layout from a prefix of it, as ``LayoutEntry`` rows built in Rust, or None: rejected
    (TRUNCATED included) or no accelerator; the reference prefix reader then judges."""
    was = gc.isenabled()
    gc.disable()  # tens of thousands of small acyclic tuples: collections triggered by them cost half the time
    try:
        return _accepted(lambda native: native.read_layout(buf, BY_CODE))
    finally:
        if was:
            gc.enable()


def _accepted(call: Callable[[ModuleType], Any]) -> Any:
    """`call(native)`'s result, or None when the accelerator is off or rejects the input (the reference judges)."""
    if not _on:
        return None
    assert _native is not None
    try:
        return call(_native)
    except (_native.Rejected, TypeError, BufferError):
        return None


class NativeInfos(Mapping[str, TensorInfo]):
    """name -> TensorInfo over a native index: nothing is built per tensor until that tensor is asked for."""

    __slots__ = ("_index", "_names", "_direct")

    def __init__(self, index: Any) -> None:
        self._index = index
        self._names: list[str] | None = None
        self._direct = index.aligned and not _BIG_ENDIAN_HOST

    def __getitem__(self, name: str) -> TensorInfo:
        code, shape, _, offset, nbytes = self._find(name)
        return TensorInfo(BY_CODE[code], shape, offset, nbytes)

    def __iter__(self) -> Iterator[str]:
        if self._names is None:
            self._names = self._index.names()
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, name: object) -> bool:
        return type(name) is str and name in self._index

    def view(self, buf: Any, name: str) -> Any:
        """As ``LazyInfos.view``: a read-only view of a plain tensor, else None (materialize decides)."""
        code, shape, count, offset, _ = self._find(name)
        return plain_view(buf, code, shape, count, offset) if self._direct else None

    def _find(self, name: str) -> tuple[int, tuple[int, ...], int, int, int]:
        """(dtype code, shape, count, offset, length) of `name`; KeyError for any other key, as a dict."""
        found = self._index.get(name) if type(name) is str else None
        if found is None:
            raise KeyError(name)
        return found
