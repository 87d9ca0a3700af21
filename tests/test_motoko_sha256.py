"""bindings/motoko/src/Sha256.mo against the FIPS 180-4 / NIST example vectors, compiled for the IC and run
under the IC emulation (tensorcbor.ic), plus every length around the block boundaries and incremental
writes against hashlib. Without node or the npm `motoko` package (npm install --prefix bindings/motoko) these
tests FAIL, not skip."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from tensorcbor.ic import Canister, candid

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import canisters  # noqa: E402

PROBE = ROOT / "tests" / "motoko" / "Sha256Probe.mo"

# FIPS 180-2 Appendix B / NIST CSRC "SHA256.pdf" example values.
NIST = [
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    (b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
]
MILLION_A = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Canister:
    try:
        wasm = canisters.build_motoko(PROBE, tmp_path_factory.mktemp("motoko"))
    except canisters.BuildError as exc:
        pytest.fail(str(exc))
    c = Canister(wasm.read_bytes())
    c.install()
    return c


def _digest(c: Canister, method: str, args: list[tuple[object, object]]) -> bytes:
    (value,) = candid.decode(c.query(method, candid.encode(args)).ok())
    return bytes(value)


@pytest.mark.parametrize(("message", "expected"), NIST, ids=["empty", "abc", "448-bit", "896-bit"])
def test_nist_vectors(probe: Canister, message: bytes, expected: str) -> None:
    assert _digest(probe, "digest", [("blob", message)]).hex() == expected


def test_one_million_a(probe: Canister) -> None:
    assert _digest(probe, "repeat", [("blob", b"a" * 1000), ("nat", 1000)]).hex() == MILLION_A


def test_every_length_around_block_boundaries(probe: Canister) -> None:
    data = bytes((i * 37 + 11) % 256 for i in range(200))
    for n in range(0, 200):
        assert _digest(probe, "digest", [("blob", data[:n])]) == hashlib.sha256(data[:n]).digest(), n


@pytest.mark.parametrize("step", [1, 3, 55, 56, 63, 64, 65, 1000])
def test_incremental_writes(probe: Canister, step: int) -> None:
    data = bytes(range(256)) * 5 + b"tail"
    assert _digest(probe, "digest_parts", [("blob", data), ("nat", step)]) == hashlib.sha256(data).digest()


@pytest.mark.parametrize("step", [1, 7, 63, 64, 65, 200])
def test_a_saved_state_resumes_in_a_new_hasher(probe: Canister, step: int) -> None:
    """`save` / `restore`: the running state as stable data (a stream receiver's document hash between messages)."""
    data = bytes(range(256)) * 3 + b"end"
    assert _digest(probe, "digest_resumed", [("blob", data), ("nat", step)]) == hashlib.sha256(data).digest()


def test_generated_source_is_current() -> None:
    """Sha256.mo is written by scripts/gen_sha256.py (unrolled rounds, constants computed from their FIPS 180-4
    definition): the committed file must be what the script writes."""
    gen = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_sha256.py"), "--check"],
                         capture_output=True, text=True)
    assert gen.returncode == 0, gen.stderr


def test_constants_match_their_definition() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import gen_sha256

    k, h = gen_sha256.round_constants(), gen_sha256.initial_hash()
    assert (k[0], k[1], k[63]) == (0x428A2F98, 0x71374491, 0xC67178F2)
    assert (h[0], h[7]) == (0x6A09E667, 0x5BE0CD19)


def test_range_writes_across_blocks(probe: Canister) -> None:
    """writeRange on sub-ranges of one blob (how put_chunk hashes a chunk's payload in place)."""
    data = bytes((i * 131 + 7) % 256 for i in range(3000))
    for start, length in [(0, 0), (5, 64), (1, 129), (60, 2000), (3, 2997)]:
        got = _digest(probe, "digest_range", [("blob", data), ("nat", start), ("nat", length)])
        assert got == hashlib.sha256(data[start:start + length]).digest(), (start, length)
