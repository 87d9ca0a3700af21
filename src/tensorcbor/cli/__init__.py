"""The ``tensorcbor`` command line.

Each module in this package that defines ``register(subparsers)`` adds its own
sub-commands, so features (convert, conformance, streaming...) stay in their own
files. A registered parser sets ``func`` to a callable taking the parsed
arguments and returning the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from ..errors import TensorCBORError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tensorcbor", description="Tensors as compact, deterministic CBOR.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except TensorCBORError as exc:
        print(f"tensorcbor: error: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"tensorcbor: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
