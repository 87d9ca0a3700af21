"""IC instructions of a plain Wasm module's functions (not a canister): the replica's metering without the
canister around it.

Why it exists: library costs are measured on small probe modules that export ordinary functions (no ``ic0``
imports, no entry points). Quoting them in the same unit as canister costs needs the same instrumentation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import wasmtime

from . import wasm as w
from .canister import engine
from .instrument import COUNTER_EXPORT, FUEL_OVERHEAD_EXPORT, MEMORY_EXPORT, instrument_cached
from .state import FUEL_BUDGET, fuel_used

LIMIT = 1 << 62


class Metered:
    """An instance of a module instrumented as the replica instruments canisters. `call` returns the result
    with the IC instructions and the wasmtime fuel (of the original module) that the call took."""

    def __init__(self, wasm: bytes | Path, imports: Sequence[Any] = ()) -> None:
        raw = Path(wasm).read_bytes() if isinstance(wasm, Path) else bytes(wasm)
        info = instrument_cached(w.parse(raw), raw)
        self.wasm64 = info.wasm64
        self.store = wasmtime.Store(engine())
        self.store.set_fuel(FUEL_BUDGET)
        instance = wasmtime.Instance(self.store, wasmtime.Module(engine(), info.wasm), list(imports))
        self.exports = instance.exports(self.store)
        memory, counter, fuel = (self.exports.get(n) for n in (MEMORY_EXPORT, COUNTER_EXPORT, FUEL_OVERHEAD_EXPORT))
        assert isinstance(counter, wasmtime.Global) and isinstance(fuel, wasmtime.Global)
        self.memory = memory if isinstance(memory, wasmtime.Memory) else None
        self._counter, self._fuel = counter, fuel

    def call(self, name: str, *args: Any) -> tuple[Any, int, int]:
        """(result, IC instructions, fuel) of one call of the exported function `name`."""
        func = self.exports[name]
        assert isinstance(func, wasmtime.Func)
        self._counter.set_value(self.store, wasmtime.Val.i64(LIMIT))
        self._fuel.set_value(self.store, wasmtime.Val.i64(0))
        self.store.set_fuel(FUEL_BUDGET)
        result = func(self.store, *args)
        used = LIMIT - self._counter.value(self.store)
        fuel = fuel_used(self.store.get_fuel(), self._fuel.value(self.store))
        return result, used, fuel
