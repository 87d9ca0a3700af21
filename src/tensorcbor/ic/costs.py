"""The IC's prices in instructions and cycles: the replica's Wasm instruction weights, its system API charges,
its per-message limits and the cycles per instruction of a 13-node application subnet.

Why it exists: canister costs in this project are quoted in IC instructions, the unit the replica meters and
bills, not in wasmtime fuel. The numbers are read from the replica's source (dfinity/ic):
- instruction weights: rs/embedders/src/wasm_utils/instrumentation.rs, ``instruction_to_cost``;
- system API fixed charges: rs/embedders/src/wasmtime_embedder/system_api_complexity.rs (``overhead``), the
  per-byte charges and which calls have them: rs/embedders/src/wasmtime_embedder/linker.rs (1 instruction per
  byte copied; 50 per byte for bytes that leave the sandbox: reply, reject, call data, log) and
  rs/embedders/src/wasm_utils/system_api_replacements.rs (stable memory, implemented in Wasm: 20 + 1 per byte,
  plus the dirty page overhead per newly written 4 KiB page);
- limits and fees: rs/config/src/subnet_config.rs (application subnet).
"""

from __future__ import annotations

from .wasm import MISC, SIMD

# ------------------------------------------------------------------ Wasm instruction weights

# Loads and stores (their weight depends on the memory: 1 in Wasm32, 2 in Wasm64).
MEMORY_ACCESS = frozenset([*range(0x28, 0x3F), *(SIMD | s for s in (*range(0, 12), 92, 93, *range(84, 92)))])

# Everything not listed weighs 1 (the replica's default), loads and stores aside.
_WEIGHTS: dict[int, int] = {
    0x02: 0, 0x03: 0, 0x05: 0, 0x0B: 0,  # block, loop, else, end
    0x04: 2, 0x0C: 2, 0x0D: 2, 0x0E: 2,  # if, br, br_if, br_table
    0x10: 5, 0x11: 10, 0x12: 3, 0x13: 60,  # call, call_indirect, return_call, return_call_indirect
    0x23: 2, 0x24: 2,  # global.get/set
    0x25: 5, 0x26: 5,  # table.get/set
    0x3F: 20, 0x40: 300,  # memory.size, memory.grow
    0xD1: 5, 0xD2: 130,  # ref.is_null, ref.func
    # integer division and remainder
    0x6D: 10, 0x6E: 10, 0x6F: 10, 0x70: 10, 0x7F: 10, 0x80: 10, 0x81: 10, 0x82: 10,
    # float comparisons
    **{op: 3 for op in range(0x5B, 0x67)},
    # f32: ceil floor trunc nearest sqrt add sub mul div min max copysign
    0x8D: 2, 0x8E: 2, 0x8F: 2, 0x90: 2, 0x91: 5, 0x92: 2, 0x93: 2, 0x94: 2, 0x95: 3, 0x96: 18, 0x97: 18, 0x98: 2,
    # f64: the same
    0x9B: 2, 0x9C: 2, 0x9D: 2, 0x9E: 2, 0x9F: 8, 0xA0: 2, 0xA1: 2, 0xA2: 2, 0xA3: 5, 0xA4: 18, 0xA5: 18, 0xA6: 3,
    # float to int truncation (trapping)
    **{op: 20 for op in (0xA8, 0xA9, 0xAA, 0xAB, 0xAE, 0xAF, 0xB0, 0xB1)},
    # int to float: signed 3, unsigned 16
    0xB2: 3, 0xB3: 16, 0xB4: 3, 0xB5: 16, 0xB7: 3, 0xB8: 16, 0xB9: 3, 0xBA: 16,
    # saturating truncation
    **{MISC | s: 20 for s in range(8)},
    # bulk memory and tables: a static 100 (plus the bytes, charged at run time), drops 300
    MISC | 8: 100, MISC | 10: 100, MISC | 11: 100, MISC | 12: 100, MISC | 14: 100, MISC | 17: 100,
    MISC | 9: 300, MISC | 13: 300,
    MISC | 15: 300, MISC | 16: 100,  # table.grow, table.size
    SIMD | 13: 3,  # i8x16.shuffle
}


def weight(op: int, wasm64: bool) -> int:
    """The replica's static cost of one operator. SIMD arithmetic is taken at the replica's default of 1 except
    for the shuffle (the replica weighs a few SIMD operators 2-14; no module here uses SIMD)."""
    if op in MEMORY_ACCESS:
        return 2 if wasm64 else 1
    return _WEIGHTS.get(op, 1)


def weight_table(wasm64: bool) -> dict[int, int]:
    """`weight` as a dict for the instrumentation's hot loop (unlisted operators weigh 1)."""
    table = dict(_WEIGHTS)
    for op in MEMORY_ACCESS:
        table[op] = 2 if wasm64 else 1
    return table


# Operators after which a new basic block starts, and of what kind (the replica's `injections`).
REENTRANT_AFTER = frozenset([0x03])  # loop: its body is re-entered, so its counter decrement also checks
NONREENTRANT_AFTER = frozenset([0x04])  # if
BLOCK_END_AFTER = frozenset([0x05, 0x0C, 0x0D, 0x0E, 0x0B, 0x0F, 0x00, 0x12, 0x13])
# Operators whose size operand is charged at run time, before they run: (opcode, size is i32 even in Wasm64).
DYNAMIC = {MISC | 11: False, MISC | 10: False, MISC | 14: False, MISC | 17: False,  # fill, copy, table.copy/fill
           MISC | 8: True, MISC | 12: True}  # memory.init, table.init

# ------------------------------------------------------------------ system API charges

# Fixed charge of each ic0 call, in instructions (system_api_complexity.rs, `overhead`).
SYSTEM_API_OVERHEAD: dict[str, int] = {
    "accept_message": 500, "call_cycles_add": 500, "call_cycles_add128": 500, "call_data_append": 500,
    "call_new": 1_500, "call_on_cleanup": 500, "call_perform": 5_000, "call_with_best_effort_response": 500,
    "canister_cycle_balance": 500, "canister_cycle_balance128": 500, "canister_liquid_cycle_balance128": 500,
    "canister_self_copy": 500, "canister_self_size": 500, "canister_status": 500, "canister_version": 500,
    "certified_data_set": 500, "cost_call": 500, "cycles_burn128": 500, "data_certificate_copy": 500,
    "data_certificate_present": 500, "data_certificate_size": 500, "debug_print": 100, "global_timer_set": 500,
    "in_replicated_execution": 500, "is_controller": 1_000, "msg_arg_data_copy": 500, "msg_arg_data_size": 500,
    "msg_caller_copy": 500, "msg_caller_size": 500, "msg_cycles_accept": 500, "msg_cycles_accept128": 500,
    "msg_cycles_available": 500, "msg_cycles_available128": 500, "msg_cycles_refunded": 500,
    "msg_cycles_refunded128": 500, "msg_deadline": 500, "msg_method_name_copy": 500, "msg_method_name_size": 500,
    "msg_reject": 500, "msg_reject_code": 500, "msg_reject_msg_copy": 500, "msg_reject_msg_size": 500,
    "msg_reply": 500, "msg_reply_data_append": 500, "performance_counter": 200, "time": 500, "trap": 500,
    "root_key_size": 500, "root_key_copy": 500, "subnet_self_size": 500, "subnet_self_copy": 500,
    # stable memory is implemented in Wasm by the replica (system_api_replacements.rs, overhead_native)
    "stable_size": 0, "stable64_size": 0, "stable_grow": 100, "stable64_grow": 100,
    "stable_read": 20, "stable64_read": 20, "stable_write": 20, "stable64_write": 20,
}
# Bytes leaving the Wasm sandbox (reply, reject, call data, canister log) cost this many instructions each
# (linker.rs, BYTE_TRANSMISSION_COST_FACTOR); bytes copied into the heap cost 1 each.
BYTE_TRANSMISSION_COST = 50
# Charged per 4 KiB page that a stable memory write dirties for the first time in a message (application
# subnet scheduler config, `dirty_page_overhead`).
DIRTY_PAGE_OVERHEAD = 1_000
OS_PAGE = 4096
# The canister log a debug_print/trap message is appended to (bytes), for the log part of their charge.
CANISTER_LOG_CAPACITY = 4096
# The replica charges this many instructions per Wasm instruction of a module it compiles (install/upgrade).
COMPILE_COST_PER_INSTRUCTION = 6_000

# ------------------------------------------------------------------ limits (application subnet)

UPDATE_LIMIT = 40_000_000_000  # per update message; the replica slices it into rounds of 2e9 (not modelled)
QUERY_LIMIT = 5_000_000_000
INSPECT_MESSAGE_LIMIT = 200_000_000
INSTALL_LIMIT = 300_000_000_000  # install_code: canister_init (with the start function), or a whole upgrade
UNLIMITED = (1 << 62)  # the limit used when message limits are switched off (conformance runs)
MAX_MESSAGE = 2 * 1024 * 1024  # ingress argument and reply payload, bytes
MAX_INTER_CANISTER_PAYLOAD = 2 * 1024 * 1024  # argument of a call between canisters (same subnet or not), bytes

# ------------------------------------------------------------------ cycles (13-node application subnet)

UPDATE_MESSAGE_FEE = 5_000_000  # cycles per executed update message
TEN_INSTRUCTIONS_FEE = 10  # cycles per 10 instructions (Wasm32)
WASM64_INSTRUCTION_COST_OVERHEAD = 2  # Wasm64 instructions are billed at twice the rate
INGRESS_MESSAGE_FEE = 1_200_000  # cycles per ingress message received
INGRESS_BYTE_FEE = 2_000  # cycles per ingress byte received


def instructions_to_cycles(instructions: int, *, wasm64: bool) -> int:
    """Cycles the replica charges for executing `instructions` (convert_instructions_to_cycles)."""
    fee = TEN_INSTRUCTIONS_FEE * (WASM64_INSTRUCTION_COST_OVERHEAD if wasm64 else 1)
    return instructions * fee // 10


def update_cycles(instructions: int, arg_bytes: int, *, wasm64: bool) -> int:
    """Cycles of one ingress update message: reception (fixed + per byte) and execution (fixed + per
    instruction). Excludes storage, which is charged over time."""
    return (INGRESS_MESSAGE_FEE + INGRESS_BYTE_FEE * arg_bytes + UPDATE_MESSAGE_FEE
            + instructions_to_cycles(instructions, wasm64=wasm64))
