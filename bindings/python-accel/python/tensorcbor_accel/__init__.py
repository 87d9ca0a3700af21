"""Optional compiled bundle reader for tensorcbor (the bindings/rust crate behind PyO3).

tensorcbor imports this package when it is installed and uses it to check valid bundles in
one call; it never reports errors itself (see tensorcbor/accel.py). Set
TENSORCBOR_NO_ACCEL=1 to run the pure-Python reference instead.
"""

from ._native import FORMAT_VERSION, SPEC_VERSION, Index, Rejected, __version__, index_bundle, read_layout

__all__ = ["FORMAT_VERSION", "SPEC_VERSION", "Index", "Rejected", "__version__", "index_bundle", "read_layout"]
