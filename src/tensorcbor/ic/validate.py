"""The checks the replica applies to a module at install, before it runs any of it.

Why it exists: a module that runs under wasmtime may still be refused by the IC (an import it does not provide,
an export name it reserves, too many globals...). These are the rules of the replica's Wasm validation
(dfinity/ic rs/embedders/src/wasm_utils/validation.rs and the limits of rs/config/src/embedders.rs), each
refusal an `InvalidModule` naming its rule, so that a test fails here where the IC would refuse the install.
"""

from __future__ import annotations

import wasmtime

from . import wasm as w
from .wasm import F32, F64, I32, I64, MISC, V128, VALTYPE_NAMES

MAX_GLOBALS = 1_000
MAX_FUNCTIONS = 50_000
MAX_CUSTOM_SECTIONS = 16
MAX_CUSTOM_SECTIONS_SIZE = 1 << 20
MAX_EXPORTED_FUNCTIONS = 1_000
MAX_EXPORTED_NAME_LENGTHS = 20_000
MAX_CODE_SECTION_SIZE = 10 << 20
MAX_FUNCTION_SIZE = 1_000_000  # operators in one body
MAX_FUNCTION_COMPLEXITY = 1_000_000
MAX_MODULE_SIZE = 100 << 20  # an uncompressed module

RESERVED_SYMBOLS = frozenset(["canister counter_instructions", "canister_start", "canister counter_dirty_pages",
                              "canister counter_accessed_pages", "stable_memory", "stable_bytemap_memory"])
SYSTEM_EXPORTS = frozenset(["canister_init", "canister_pre_upgrade", "canister_post_upgrade",
                            "canister_inspect_message", "canister_heartbeat", "canister_global_timer",
                            "canister_on_low_wasm_memory"])
METHOD_PREFIXES = ("canister_query ", "canister_composite_query ", "canister_update ")


class InvalidModule(ValueError):
    """The replica would refuse to install this module. `rule` names the check (stable, for tests and
    tools); the message says what in the module broke it."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule


# ic0 functions: name -> (params, results), with "I" for the pointer/size type (i32 in Wasm32, i64 in Wasm64).
_COMMON: dict[str, tuple[str, str]] = {
    "msg_caller_size": ("", "I"), "msg_caller_copy": ("III", ""),
    "msg_arg_data_size": ("", "I"), "msg_arg_data_copy": ("III", ""),
    "msg_method_name_size": ("", "I"), "msg_method_name_copy": ("III", ""), "accept_message": ("", ""),
    "msg_reject_code": ("", "i"), "msg_reject_msg_size": ("", "I"), "msg_reject_msg_copy": ("III", ""),
    "msg_reply_data_append": ("II", ""), "msg_reply": ("", ""), "msg_reject": ("II", ""),
    "canister_self_size": ("", "I"), "canister_self_copy": ("III", ""),
    "call_new": ("IIIIIIII", ""), "call_data_append": ("II", ""), "call_on_cleanup": ("II", ""),
    "call_perform": ("", "i"), "debug_print": ("II", ""),
    "stable64_size": ("", "l"), "stable64_grow": ("l", "l"), "stable64_read": ("lll", ""),
    "stable64_write": ("lll", ""), "time": ("", "l"), "global_timer_set": ("l", "l"),
    "performance_counter": ("i", "l"), "canister_version": ("", "l"), "trap": ("II", ""),
    "certified_data_set": ("II", ""), "data_certificate_present": ("", "i"), "data_certificate_size": ("", "I"),
    "data_certificate_copy": ("III", ""), "canister_status": ("", "i"), "mint_cycles": ("l", "l"),
    "call_cycles_add128": ("ll", ""), "canister_cycle_balance128": ("I", ""), "msg_cycles_available128": ("I", ""),
    "msg_cycles_refunded128": ("I", ""), "msg_cycles_accept128": ("llI", ""), "is_controller": ("II", "i"),
    "in_replicated_execution": ("", "i"), "cycles_burn128": ("llI", ""),
    "call_with_best_effort_response": ("i", ""), "msg_deadline": ("", "l"),
    "cost_call": ("llI", ""), "canister_liquid_cycle_balance128": ("I", ""),
}
_WASM32_ONLY: dict[str, tuple[str, str]] = {
    "call_cycles_add": ("l", ""), "stable_size": ("", "i"), "stable_grow": ("i", "i"), "stable_read": ("iii", ""),
    "stable_write": ("iii", ""), "canister_cycle_balance": ("", "l"), "msg_cycles_available": ("", "l"),
    "msg_cycles_refunded": ("", "l"), "msg_cycles_accept": ("l", "l"),
}


def system_api(wasm64: bool) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """The ic0 functions a module may import, with their exact signatures."""
    ptr = I64 if wasm64 else I32
    codes = {"I": ptr, "i": I32, "l": I64}
    table = dict(_COMMON) if wasm64 else {**_COMMON, **_WASM32_ONLY}
    return {k: (tuple(codes[c] for c in p), tuple(codes[c] for c in r)) for k, (p, r) in table.items()}


def _sig(types: tuple[int, ...]) -> str:
    return "(" + ", ".join(VALTYPE_NAMES.get(t, hex(t)) for t in types) + ")"


def _check_imports(m: w.Module) -> None:
    api = system_api(m.memory64)
    for imp in m.imports:
        where = f"{imp.module}.{imp.name}"
        if imp.kind == 0:
            if imp.name not in api:
                raise InvalidModule("IMPORT_UNKNOWN", f"the module imports function {where!r}, which the IC does "
                                                      "not provide")
            if imp.module != "ic0":
                raise InvalidModule("IMPORT_MODULE", f"{where!r} must be imported from 'ic0'")
            params, results = m.types[imp.index]
            want = api[imp.name]
            if (params, results) != want:
                raise InvalidModule("IMPORT_SIGNATURE", f"ic0.{imp.name} is imported as {_sig(params)} -> "
                                                        f"{_sig(results)}, the IC provides {_sig(want[0])} -> "
                                                        f"{_sig(want[1])}")
        elif imp.kind == 1 and imp.name == "table" and imp.module != "env":
            raise InvalidModule("IMPORT_TABLE", "only a table imported as env.table is allowed")
        elif imp.kind == 2 and imp.name == "memory" and imp.module != "env":
            raise InvalidModule("IMPORT_MEMORY", "only a memory imported as env.memory is allowed")
        elif imp.kind == 3:
            raise InvalidModule("IMPORT_GLOBAL", f"importing globals is not allowed ({where})")
        elif imp.kind == 4:
            raise InvalidModule("IMPORT_TAG", f"importing tags is not allowed ({where})")


def _check_exports(m: w.Module) -> None:
    seen: set[str] = set()
    count = lengths = 0
    for e in m.exports:
        if e.name in RESERVED_SYMBOLS:
            raise InvalidModule("EXPORT_RESERVED", f"exporting the reserved symbol {e.name!r} is not allowed")
        if e.kind != 0:
            continue
        kind = e.name
        if e.name.startswith(METHOD_PREFIXES):
            kind, method = e.name.split(" ", 1)
            if method in seen:
                raise InvalidModule("EXPORT_DUPLICATE", f"method {method!r} is exported twice")
            seen.add(method)
            count += 1
            lengths += len(method.encode())
        elif e.name.startswith("canister_") and e.name not in SYSTEM_EXPORTS:
            raise InvalidModule("EXPORT_CANISTER_PREFIX", f"exporting {e.name!r}: the 'canister_' prefix is reserved "
                                                          "for the IC's entry points")
        if kind.startswith("canister_"):
            params, results = m.function_type(e.index)
            if params or results:
                raise InvalidModule("EXPORT_SIGNATURE", f"{e.name!r} has type {_sig(params)} -> {_sig(results)}, "
                                                        "entry points take and return nothing")
    if count > MAX_EXPORTED_FUNCTIONS:
        raise InvalidModule("TOO_MANY_EXPORTS", f"{count} methods exported, at most {MAX_EXPORTED_FUNCTIONS}")
    if lengths > MAX_EXPORTED_NAME_LENGTHS:
        raise InvalidModule("EXPORT_NAMES_TOO_LONG", f"method names total {lengths} bytes, at most "
                                                     f"{MAX_EXPORTED_NAME_LENGTHS}")


def _check_sections(m: w.Module) -> None:
    const = I64 if m.memory64 else I32
    for i, seg in enumerate(m.data):
        if seg.active and (seg.offset_opcode != (0x42 if const == I64 else 0x41) or seg.offset_ops != 1):
            raise InvalidModule("DATA_OFFSET", f"data segment {i}: the offset must be one "
                                               f"{VALTYPE_NAMES[const]}.const")
    if len(m.globals) > MAX_GLOBALS:
        raise InvalidModule("TOO_MANY_GLOBALS", f"{len(m.globals)} globals defined, at most {MAX_GLOBALS}")
    for i, (vt, _) in enumerate(m.globals):
        if vt not in (I32, I64, F32, F64, V128):
            raise InvalidModule("GLOBAL_TYPE", f"global {i} has type {VALTYPE_NAMES.get(vt, hex(vt))}")
    if len(m.functions) > MAX_FUNCTIONS:
        raise InvalidModule("TOO_MANY_FUNCTIONS", f"{len(m.functions)} functions defined, at most {MAX_FUNCTIONS}")
    if m.code_size > MAX_CODE_SECTION_SIZE:
        raise InvalidModule("CODE_SECTION_TOO_LARGE", f"the code section has {m.code_size} bytes, at most "
                                                      f"{MAX_CODE_SECTION_SIZE}")
    names: set[str] = set()
    total = 0
    for section, size in m.custom:
        if not section.startswith("icp:"):
            continue
        if section.startswith("icp:public "):
            short = section[len("icp:public "):]
        elif section.startswith("icp:private "):
            short = section[len("icp:private "):]
        else:
            raise InvalidModule("CUSTOM_SECTION_NAME", f"custom section {section!r} has no 'public ' or 'private ' "
                                                       "scope after 'icp:'")
        if short in names:
            raise InvalidModule("CUSTOM_SECTION_DUPLICATE", f"custom section name {short!r} is used twice")
        names.add(short)
        total += size + len(short.encode())
        if total > MAX_CUSTOM_SECTIONS_SIZE:
            raise InvalidModule("CUSTOM_SECTIONS_TOO_LARGE", f"icp: custom sections total {total} bytes, at most "
                                                             f"{MAX_CUSTOM_SECTIONS_SIZE}")
        if len(names) > MAX_CUSTOM_SECTIONS:
            raise InvalidModule("TOO_MANY_CUSTOM_SECTIONS", f"more than {MAX_CUSTOM_SECTIONS} icp: custom sections")


# The replica's complexity weight of an operator (validation.rs, wasm_function_complexity); others weigh 1.
_COMPLEXITY: dict[int, int] = {
    **{op: 50 for op in (0x02, 0x03, 0x04, 0x0C, 0x0D, 0x0E, 0x10, 0x11, 0x40)},
    0x25: 14, 0xD2: 8, 0xD1: 6,
    **{op: 5 for op in (0xA8, 0xA9, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF, 0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6,
                        0xB7, 0xB8, 0xB9, 0xBA)},
    **{op: 4 for op in (0x8C, 0x8B, 0x9A, 0x99, MISC | 10)},
    **{op: 3 for op in (0x98, 0xA6, 0x61, 0x70, 0x6F, 0x82, 0x81, 0x6E, 0x6D, 0x80, 0x7F, MISC | 11,
                        *range(0x28, 0x36), *(MISC | s for s in range(8)))},
    **{op: 2 for op in (0x23, 0x69, 0x7B, 0x1B, 0x3F, *range(0x36, 0x3F), 0x45, *range(0x46, 0x50), 0x50,
                        *range(0x51, 0x5B), *range(0x5B, 0x61), *range(0x62, 0x67), 0x8D, 0x9B, 0x8E, 0x9C, 0x91,
                        0x9F, 0x8F, 0x9D, *range(0xBC, 0xC0), 0xA7, *range(0xC0, 0xC5), 0xBB)},
}
_UNSUPPORTED = {MISC | 15: "table.grow", 0x26: "table.set", MISC | 17: "table.fill", MISC | 14: "table.copy",
                MISC | 12: "table.init"}


def check_body(index: int, ops: list[tuple[int, int]]) -> None:
    """The replica's per-function limits: operator count and complexity, and the table operators it refuses."""
    if len(ops) > MAX_FUNCTION_SIZE:
        raise InvalidModule("FUNCTION_TOO_LARGE", f"function {index} has {len(ops)} instructions, at most "
                                                  f"{MAX_FUNCTION_SIZE}")
    get = _COMPLEXITY.get
    complexity = 0
    for op, _ in ops:
        if op in _UNSUPPORTED:
            raise InvalidModule("UNSUPPORTED_INSTRUCTION", f"function {index} uses {_UNSUPPORTED[op]}")
        complexity += get(op, 1)
    if complexity > MAX_FUNCTION_COMPLEXITY:
        raise InvalidModule("FUNCTION_TOO_COMPLEX", f"function {index} has complexity {complexity}, at most "
                                                    f"{MAX_FUNCTION_COMPLEXITY}")


def _engine(wasm64: bool) -> wasmtime.Engine:
    cfg = wasmtime.Config()
    cfg.wasm_bulk_memory = True
    cfg.wasm_reference_types = True
    cfg.wasm_memory64 = wasm64
    cfg.wasm_multi_memory = False
    cfg.wasm_relaxed_simd = False
    cfg.wasm_tail_call = False
    cfg.wasm_threads = False
    return wasmtime.Engine(cfg)


def validate(raw: bytes) -> w.Module:
    """The parsed module if the replica would accept it; otherwise raises InvalidModule."""
    if len(raw) > MAX_MODULE_SIZE:
        raise InvalidModule("MODULE_TOO_LARGE", f"the module has {len(raw)} bytes, at most {MAX_MODULE_SIZE}")
    try:
        m = w.parse(raw)
    except (w.WasmFormatError, IndexError) as exc:
        raise InvalidModule("DECODE", str(exc)) from None
    try:
        wasmtime.Module.validate(_engine(m.memory64), raw)
    except wasmtime.WasmtimeError as exc:
        raise InvalidModule("WASM_INVALID", str(exc).splitlines()[0]) from None
    _check_imports(m)
    _check_exports(m)
    _check_sections(m)
    return m
