"""A deployed canister's conformance method, called through icp-cli or dfx (``--canister-id ID --network URL``).

Each call is one query sent by a subprocess: the Candid argument goes in a file as raw bytes (icp-cli:
``--args-file F --args-format bin``) or hex (dfx: ``--type raw --argument-file F``), and the reply comes back
as hex (icp-cli ``--output hex``, dfx ``--output raw``), so no Candid text is parsed on either side. A query
reports no instruction count, so a remote run's report has no IC instructions.

Not exercised here: no replica, dfx or network is available where this package is tested. The command lines
follow the tools' documented options (icp-cli 1.5 ``icp canister call --help``; dfx ``dfx canister call``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .canister import CallFailed
from .impl import ImplUnavailable

TOOLS = ("icp", "dfx")
_MAINNET = re.compile(r"(^|\.|//)(ic0\.app|icp0\.io|icp-api\.io)(/|:|$)")


def find_tool(tool: str | None) -> tuple[str, str]:
    """(tool name, executable): `tool` if given, else icp-cli, else dfx, as found on PATH."""
    for name in (tool,) if tool else TOOLS:
        assert name is not None
        exe = shutil.which(name)
        if exe:
            return name, exe
    wanted = tool or "icp (npm i -g @icp-sdk/icp-cli) or dfx"
    raise ImplUnavailable(f"{wanted} is not on PATH: a deployed canister is called through icp-cli or dfx")


class RemoteCanister:
    """A `Transport` to a deployed canister. `root_key` (icp-cli, a network given by URL): "mainnet", "fetch" (a
    local replica) or the key in hex; by default "mainnet" for the IC's own URLs and "fetch" otherwise."""

    def __init__(self, canister_id: str, network: str, *, tool: str | None = None, root_key: str | None = None,
                 identity: str | None = None, timeout: float = 60.0) -> None:
        self.tool, self.exe = find_tool(tool)
        self.canister_id = canister_id
        self.network = network
        self.root_key = root_key or ("mainnet" if _MAINNET.search(network) else "fetch")
        self.identity = identity
        self.timeout = timeout
        self.name = f"canister {canister_id} on {network} (through {self.tool})"
        self._dir = tempfile.TemporaryDirectory(prefix="tensorcbor-call-")

    def command(self, method: str, arg_file: Path) -> list[str]:
        """The command line of one query whose Candid argument is in `arg_file` (raw for icp, hex for dfx)."""
        if self.tool == "icp":
            cmd = [self.exe, "canister", "call", self.canister_id, method, "--query", "--args-file", str(arg_file),
                   "--args-format", "bin", "--output", "hex", "--network", self.network, "--root-key", self.root_key]
        else:
            cmd = [self.exe, "canister", "call", "--network", self.network, "--query", "--type", "raw",
                   "--argument-file", str(arg_file), "--output", "raw", self.canister_id, method]
        if self.identity:
            cmd += ["--identity", self.identity]
        return cmd

    def query(self, method: str, arg: bytes) -> tuple[bytes, int | None]:
        path = Path(self._dir.name) / "arg"
        path.write_bytes(arg if self.tool == "icp" else arg.hex().encode())
        try:
            done = subprocess.run(self.command(method, path), capture_output=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise CallFailed(f"{self.tool} gave no answer within {self.timeout:g} s") from None
        except OSError as exc:
            raise ImplUnavailable(f"cannot run {self.exe}: {exc.strerror or exc}") from None
        out = done.stdout.decode("utf-8", "replace").strip()
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise CallFailed(f"{self.tool} exited with status {done.returncode} (a trap, a reject or no "
                             f"connection): {' '.join(err)[:400]}")
        text = re.sub(r"\s+", "", out.splitlines()[-1] if out else "")
        if text.startswith(("0x", "0X")):
            text = text[2:]
        try:
            return bytes.fromhex(text), None
        except ValueError:
            raise CallFailed(f"{self.tool} printed no hex reply: {out[:200]!r}") from None

    def close(self) -> None:
        self._dir.cleanup()


__all__ = ["RemoteCanister", "find_tool", "TOOLS"]

