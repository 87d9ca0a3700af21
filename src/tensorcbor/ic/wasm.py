"""Reading and writing the Wasm binary format: sections, the module's index spaces, and the operators of a body.

Why it exists: the IC instruments and validates a canister module before it runs it. Both need the module's
structure (imports, functions, globals, exports, custom sections) and the exact boundaries of every operator
in the code section, which wasmtime does not expose. This is a decoder of the binary format only (no
validation of types; wasmtime does that): enough to find each operator, its opcode and the immediates the
instrumentation rewrites.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .leb import LebError, enc_uleb, read_leb, signed

MAGIC = b"\0asm\x01\0\0\0"

# Section ids, and the order non-custom sections must appear in (tag 13 sits between memory and global,
# data count 12 before code).
CUSTOM, TYPE, IMPORT, FUNCTION, TABLE, MEMORY, GLOBAL, EXPORT, START, ELEMENT, CODE, DATA, DATACOUNT, TAG = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)
_ORDER = {TYPE: 1, IMPORT: 2, FUNCTION: 3, TABLE: 4, MEMORY: 5, TAG: 6, GLOBAL: 7, EXPORT: 8, START: 9,
          ELEMENT: 10, DATACOUNT: 11, CODE: 12, DATA: 13}

# Value types.
I32, I64, F32, F64, V128, FUNCREF, EXTERNREF = 0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F
VALTYPE_NAMES = {I32: "i32", I64: "i64", F32: "f32", F64: "f64", V128: "v128", FUNCREF: "funcref",
                 EXTERNREF: "externref"}

# Opcodes are ints: one byte, or prefix << 16 | sub-opcode for the 0xFC (misc) and 0xFD (SIMD) prefixes.
MISC = 0xFC << 16
SIMD = 0xFD << 16


class WasmFormatError(ValueError):
    """The bytes are not a Wasm module this decoder can read (a structural error, not a validation rule)."""


def _leb(buf: bytes, pos: int) -> tuple[int, int, int]:
    """The 7-bit groups of a LEB128 at `pos` (at most 10 bytes: a 64-bit value): see leb.read_leb."""
    try:
        return read_leb(buf, pos, max_bytes=10)
    except LebError as exc:
        raise WasmFormatError(str(exc)) from None


def uleb(buf: bytes, pos: int) -> tuple[int, int]:
    """An unsigned LEB128 at `pos`: (value, position after it)."""
    n, _, pos = _leb(buf, pos)
    return n, pos


def sleb(buf: bytes, pos: int) -> tuple[int, int]:
    """A signed LEB128 at `pos`: (value, position after it); the last group's bit 6 is the sign."""
    n, shift, pos = _leb(buf, pos)
    return signed(n, shift), pos


def name(buf: bytes, pos: int) -> tuple[str, int]:
    n, pos = uleb(buf, pos)
    if pos + n > len(buf):
        raise WasmFormatError("a name runs past the end of its section")
    try:
        return buf[pos:pos + n].decode("utf-8"), pos + n
    except UnicodeDecodeError:
        raise WasmFormatError("a name is not valid UTF-8") from None


def enc_name(s: str) -> bytes:
    raw = s.encode("utf-8")
    return enc_uleb(len(raw)) + raw


@dataclass
class Import:
    module: str
    name: str
    kind: int  # 0 function, 1 table, 2 memory, 3 global, 4 tag
    index: int = 0  # type index of a function import
    memory64: bool = False


@dataclass
class Export:
    name: str
    kind: int
    index: int


@dataclass
class DataSegment:
    active: bool
    offset_opcode: int | None  # the first operator of an active segment's offset expression
    offset_ops: int  # operators in that expression before its `end`
    size: int


@dataclass
class Module:
    """The parts of a module the IC's validation and instrumentation look at; `sections` keeps every section's
    raw body (in file order) so that a rewrite can change a few and copy the rest."""

    sections: list[tuple[int, bytes]]
    types: list[tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    functions: list[int] = field(default_factory=list)  # type index of each defined function
    memories: list[bool] = field(default_factory=list)  # memory64 flag of each defined memory
    tables: int = 0
    globals: list[tuple[int, bool]] = field(default_factory=list)  # (value type, mutable)
    exports: list[Export] = field(default_factory=list)
    start: int | None = None
    data: list[DataSegment] = field(default_factory=list)
    custom: list[tuple[str, int]] = field(default_factory=list)  # (name, payload size)
    code_size: int = 0
    bodies: list[tuple[int, int]] = field(default_factory=list)  # (start, end) of each body in the code section

    @property
    def imported_functions(self) -> int:
        return sum(1 for i in self.imports if i.kind == 0)

    @property
    def imported_globals(self) -> int:
        return sum(1 for i in self.imports if i.kind == 3)

    @property
    def memory64(self) -> bool:
        """Whether the main memory (the first, imported or defined) is 64-bit: the IC's Wasm64 mode."""
        for i in self.imports:
            if i.kind == 2:
                return i.memory64
        return bool(self.memories and self.memories[0])

    def section(self, sid: int) -> bytes | None:
        for s, body in self.sections:
            if s == sid:
                return body
        return None

    def function_type(self, index: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The (params, results) of a function in the function index space (imports first)."""
        imported = [i for i in self.imports if i.kind == 0]
        if index < len(imported):
            return self.types[imported[index].index]
        return self.types[self.functions[index - len(imported)]]


def _limits(buf: bytes, pos: int) -> tuple[int, int]:
    """Skip memory or table limits: (flags, position after)."""
    flags = buf[pos]
    pos += 1
    _, pos = uleb(buf, pos)
    if flags & 1:
        _, pos = uleb(buf, pos)
    if flags & 8:  # custom page size
        _, pos = uleb(buf, pos)
    return flags, pos


def _reftype(buf: bytes, pos: int) -> int:
    if buf[pos] in (0x63, 0x64):  # (ref null? ht): function references, not enabled on the IC
        raise WasmFormatError("typed function references are not supported")
    return pos + 1


def _const_expr(buf: bytes, pos: int) -> tuple[int | None, int, int]:
    """Skip a constant expression: (first opcode, operators before `end`, position after the `end`)."""
    first: int | None = None
    count = 0
    while True:
        op, pos = read_op(buf, pos)
        if op == 0x0B:
            return first, count, pos
        if first is None:
            first = op
        count += 1


def parse(wasm: bytes) -> Module:
    """The module's structure. Raises WasmFormatError on bytes that are not a readable Wasm module."""
    if wasm[:8] != MAGIC:
        raise WasmFormatError("not a Wasm module (bad magic or version)")
    sections: list[tuple[int, bytes]] = []
    pos = 8
    while pos < len(wasm):
        sid = wasm[pos]
        size, begin = uleb(wasm, pos + 1)
        if begin + size > len(wasm):
            raise WasmFormatError(f"section {sid} runs past the end of the module")
        sections.append((sid, wasm[begin:begin + size]))
        pos = begin + size
    m = Module(sections)
    for sid, body in sections:
        if sid == TYPE:
            _parse_types(m, body)
        elif sid == IMPORT:
            _parse_imports(m, body)
        elif sid == FUNCTION:
            n, p = uleb(body, 0)
            for _ in range(n):
                t, p = uleb(body, p)
                m.functions.append(t)
        elif sid == TABLE:
            m.tables = uleb(body, 0)[0]
        elif sid == MEMORY:
            n, p = uleb(body, 0)
            for _ in range(n):
                flags, p = _limits(body, p)
                m.memories.append(bool(flags & 4))
        elif sid == GLOBAL:
            n, p = uleb(body, 0)
            for _ in range(n):
                vt = body[p]
                p = _reftype(body, p)
                mut = body[p]
                _, _, p = _const_expr(body, p + 1)
                m.globals.append((vt, bool(mut)))
        elif sid == EXPORT:
            n, p = uleb(body, 0)
            for _ in range(n):
                nm, p = name(body, p)
                kind = body[p]
                idx, p = uleb(body, p + 1)
                m.exports.append(Export(nm, kind, idx))
        elif sid == START:
            m.start = uleb(body, 0)[0]
        elif sid == CODE:
            m.code_size = len(body)
            n, p = uleb(body, 0)
            for _ in range(n):
                size, p = uleb(body, p)
                m.bodies.append((p, p + size))
                p += size
        elif sid == DATA:
            _parse_data(m, body)
        elif sid == CUSTOM:
            nm, p = name(body, 0)
            m.custom.append((nm, len(body) - p))
    if len(m.bodies) != len(m.functions):
        raise WasmFormatError(f"{len(m.functions)} functions declared but {len(m.bodies)} bodies")
    return m


def _parse_types(m: Module, body: bytes) -> None:
    n, p = uleb(body, 0)
    for _ in range(n):
        if body[p] != 0x60:
            raise WasmFormatError(f"type form 0x{body[p]:02x} is not a function type")
        np_, p = uleb(body, p + 1)
        params = tuple(body[p:p + np_])
        p += np_
        nr, p = uleb(body, p)
        results = tuple(body[p:p + nr])
        p += nr
        m.types.append((params, results))


def _parse_imports(m: Module, body: bytes) -> None:
    n, p = uleb(body, 0)
    for _ in range(n):
        mod, p = name(body, p)
        nm, p = name(body, p)
        kind = body[p]
        p += 1
        imp = Import(mod, nm, kind)
        if kind == 0:
            imp.index, p = uleb(body, p)
        elif kind == 1:
            p = _reftype(body, p)
            _, p = _limits(body, p)
        elif kind == 2:
            flags, p = _limits(body, p)
            imp.memory64 = bool(flags & 4)
        elif kind == 3:
            p = _reftype(body, p) + 1
        elif kind == 4:
            p += 1
            _, p = uleb(body, p)
        else:
            raise WasmFormatError(f"import kind {kind} is unknown")
        m.imports.append(imp)


def _parse_data(m: Module, body: bytes) -> None:
    n, p = uleb(body, 0)
    for _ in range(n):
        flags, p = uleb(body, p)
        first: int | None = None
        count = 0
        if flags == 1:
            active = False
        else:
            active = True
            if flags == 2:
                _, p = uleb(body, p)
            elif flags != 0:
                raise WasmFormatError(f"data segment flags {flags} are unknown")
            first, count, p = _const_expr(body, p)
        size, p = uleb(body, p)
        p += size
        m.data.append(DataSegment(active, first, count, size))


def write(sections: list[tuple[int, bytes]]) -> bytes:
    out = bytearray(MAGIC)
    for sid, body in sections:
        out.append(sid)
        out += enc_uleb(len(body))
        out += body
    return bytes(out)


def put_section(sections: list[tuple[int, bytes]], sid: int, body: bytes | None) -> None:
    """Replace section `sid` (or insert it where the format's order puts it; None removes it)."""
    for i, (s, _) in enumerate(sections):
        if s == sid:
            if body is None:
                del sections[i]
            else:
                sections[i] = (sid, body)
            return
    if body is None:
        return
    rank = _ORDER[sid]
    at = 0
    for i, (s, _) in enumerate(sections):
        if s != CUSTOM and _ORDER[s] < rank:
            at = i + 1
    sections.insert(at, (sid, body))


# ------------------------------------------------------------------ operators

_BLOCKTYPE_BYTES = frozenset((0x40, I32, I64, F32, F64, V128, FUNCREF, EXTERNREF))
_NO_IMM = frozenset([0x00, 0x01, 0x05, 0x0B, 0x0F, 0x1A, 0x1B, 0xD1, *range(0x45, 0xC5)])
_ONE_ULEB = frozenset([0x0C, 0x0D, 0x10, 0x12, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x3F, 0x40, 0xD2])
_MEMARG = frozenset(range(0x28, 0x3F))
_SIMD_MEMARG = frozenset([*range(0, 12), 92, 93])
_SIMD_LANE = frozenset(range(21, 35))
_SIMD_MEMARG_LANE = frozenset(range(84, 92))
# 0xFC sub-opcodes and how many LEB immediates follow them.
_MISC_IMM = {0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0, 8: 2, 9: 1, 10: 2, 11: 1, 12: 2, 13: 1, 14: 2, 15: 1,
             16: 1, 17: 1}


def _memarg(buf: bytes, pos: int) -> int:
    align, pos = uleb(buf, pos)
    if align & 0x40:  # multi-memory: a memory index follows
        _, pos = uleb(buf, pos)
    _, pos = uleb(buf, pos)
    return pos


def read_op(buf: bytes, pos: int) -> tuple[int, int]:
    """The operator at `pos`: (opcode, position after its immediates)."""
    try:
        op = buf[pos]
    except IndexError:
        raise WasmFormatError("a function body ends inside an operator") from None
    pos += 1
    if op in _NO_IMM:
        return op, pos
    if op in _ONE_ULEB:
        return op, uleb(buf, pos)[1]
    if op in _MEMARG:
        return op, _memarg(buf, pos)
    if op == 0x41 or op == 0x42:
        return op, sleb(buf, pos)[1]
    if op == 0x43:
        return op, pos + 4
    if op == 0x44:
        return op, pos + 8
    if op in (0x02, 0x03, 0x04):
        if buf[pos] in _BLOCKTYPE_BYTES:
            return op, pos + 1
        return op, sleb(buf, pos)[1]
    if op == 0x0E:
        n, pos = uleb(buf, pos)
        for _ in range(n + 1):
            _, pos = uleb(buf, pos)
        return op, pos
    if op == 0x11 or op == 0x13:
        _, pos = uleb(buf, pos)
        return op, uleb(buf, pos)[1]
    if op == 0x1C:
        n, pos = uleb(buf, pos)
        return op, pos + n
    if op == 0xD0:
        return op, _reftype(buf, pos)
    if op == 0xFC:
        sub, pos = uleb(buf, pos)
        if sub not in _MISC_IMM:
            raise WasmFormatError(f"unknown operator 0xfc {sub}")
        for _ in range(_MISC_IMM[sub]):
            _, pos = uleb(buf, pos)
        return MISC | sub, pos
    if op == 0xFD:
        sub, pos = uleb(buf, pos)
        if sub in _SIMD_MEMARG:
            pos = _memarg(buf, pos)
        elif sub == 12 or sub == 13:
            pos += 16
        elif sub in _SIMD_LANE:
            pos += 1
        elif sub in _SIMD_MEMARG_LANE:
            pos = _memarg(buf, pos) + 1
        return SIMD | sub, pos
    raise WasmFormatError(f"operator 0x{op:02x} is not supported (exceptions, atomics or GC)")


def body_ops(code: bytes, start: int, end: int) -> tuple[int, list[tuple[int, int]]]:
    """A function body's operators: (position after the locals, [(opcode, start), ...])."""
    n, pos = uleb(code, start)
    for _ in range(n):
        _, pos = uleb(code, pos)
        pos += 1
    ops: list[tuple[int, int]] = []
    append = ops.append
    while pos < end:
        op, nxt = read_op(code, pos)
        append((op, pos))
        pos = nxt
    if pos != end or not ops or ops[-1][0] != 0x0B:
        raise WasmFormatError("a function body does not end with `end` at its declared size")
    return ops[0][1], ops
