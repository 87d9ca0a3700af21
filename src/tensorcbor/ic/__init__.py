"""An Internet Computer canister host for tests and benchmarks: the replica's module validation, instruction
metering, system API charges and message limits, on wasmtime (a dependency of the package).

    from tensorcbor.ic import Canister, candid
    c = Canister(Path("store.wasm").read_bytes())
    c.install()
    res = c.update("put", candid.encode([("blob", b"...")]))
    res.ic_instructions, res.fuel, res.cycles

What it is and is not: see canister.py. Costs: see costs.py.
"""

from __future__ import annotations

from . import candid, costs
from .canister import Canister
from .costs import (
                    INSPECT_MESSAGE_LIMIT,
                    INSTALL_LIMIT,
                    QUERY_LIMIT,
                    UPDATE_LIMIT,
                    instructions_to_cycles,
                    update_cycles,
)
from .result import Result, Trap
from .validate import InvalidModule

__all__ = ["Canister", "Result", "Trap", "InvalidModule", "candid", "costs", "UPDATE_LIMIT", "QUERY_LIMIT",
           "INSPECT_MESSAGE_LIMIT", "INSTALL_LIMIT", "instructions_to_cycles", "update_cycles"]
