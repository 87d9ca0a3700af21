"""Version numbers in one place: the package's, the wire format's and the specification's.

The Rust crate states the same format and spec versions in ``[package.metadata.tensorcbor]`` of
bindings/rust/Cargo.toml (a test compares them).
"""

from __future__ import annotations

__all__ = ["PACKAGE_VERSION", "FORMAT_VERSION", "SPEC_VERSION", "version_line"]

PACKAGE_VERSION = "1.0.0"
FORMAT_VERSION = 1
"""The version field every document carries (SPEC.md §4)."""
SPEC_VERSION = "1.0.1"
"""The SPEC.md revision this package implements."""


def version_line() -> str:
    """What ``tensorcbor --version`` prints."""
    return f"tensorcbor {PACKAGE_VERSION} (format version {FORMAT_VERSION}, SPEC.md {SPEC_VERSION})"
