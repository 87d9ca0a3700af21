// The tensor-store example as a command, for tests/test_binding_js_store.py to replay into the emulated canister:
//   node store-cli.mjs plan FILE.tcb MAX_SIZE   -> JSON [{method, arg}] (Candid argument bytes as hex)
//   node store-cli.mjs get REPLY_FILE           -> JSON {dtype, shape, data_hex | strings} of a `get` reply (Candid bytes)
import { readFileSync } from "node:fs";
import { decodeGetReply, uploadCalls } from "./tensor-store.mjs";

const hex = (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
const [op, a, b] = process.argv.slice(2);
if (op === "plan") {
  const calls = uploadCalls(new Uint8Array(readFileSync(a)), Number(b));
  console.log(JSON.stringify(calls.map((c) => ({ method: c.method, arg: hex(c.arg) }))));
} else if (op === "get") {
  const t = decodeGetReply(new Uint8Array(readFileSync(a)));
  console.log(JSON.stringify({ dtype: t.dtype, shape: t.shape, ...(t.strings ? { strings: t.strings } : { data_hex: hex(t.bytes) }) }));
} else {
  console.error("usage: store-cli.mjs plan FILE MAX_SIZE | get REPLY_FILE");
  process.exit(2);
}
