// The tensor-store example's call sequence, against a stand-in actor that verifies chunks as the canister does.
// (tests/test_binding_js.py replays the same calls into the real canister under tensorcbor.ic, the IC emulation.)
import assert from "node:assert/strict";
import { test } from "node:test";
import { IDL } from "@icp-sdk/core/candid";
import { encodeBundle, encodeTensor, StoringReceiver, TensorCBORError } from "tensorcbor";
import { decodeGetReply, idlFactory, uploadCalls, uploadModel } from "../examples/tensor-store.mjs";

/** An actor whose methods run a StoringReceiver and answer with the Candid shapes of tensor-store.did. */
function standIn() {
  let rx = null;
  const calls = [];
  const status = () => ({ chunks: 0n, received: 0n, bytes: 0n, doc_length: 0n });
  const guard = (f) => {
    try {
      return { Ok: f() };
    } catch (e) {
      if (e instanceof TensorCBORError) return { Err: { Format: { code: e.code, message: e.message } } };
      throw e;
    }
  };
  return {
    calls,
    document: () => rx.finish(),
    begin_upload: async (manifest, digest) => {
      calls.push("begin_upload");
      rx = new StoringReceiver({ expectedDigest: digest });
      return guard(() => (rx.accept(manifest), status()));
    },
    put_chunk: async (chunk) => {
      calls.push("put_chunk");
      return guard(() => (rx.accept(chunk), status()));
    },
    finish: async () => {
      calls.push("finish");
      return guard(() => ({ tensors: 1n, doc_length: BigInt(rx.finish().length) }));
    },
  };
}

test("uploadModel sends begin_upload, every chunk in order, then finish", async () => {
  const doc = encodeBundle({ w: { dtype: "float32", shape: [300, 100], data: new Float32Array(30000).fill(1.5) } });
  const actor = standIn();
  const progress = [];
  const n = await uploadModel(actor, doc, { maxSize: 20_000, onProgress: (done, total) => progress.push([done, total]) });
  assert.equal(n, 7);
  assert.deepEqual(actor.calls, ["begin_upload", ...Array(7).fill("put_chunk"), "finish"]);
  assert.deepEqual(progress.at(-1), [9, 9]);
  assert.deepEqual(actor.document(), doc);
});

test("a Format rejection surfaces as a TensorCBORError with the canister's code", async () => {
  const doc = encodeTensor({ dtype: "uint8", shape: [5000], data: new Uint8Array(5000) });
  const calls = uploadCalls(doc, 1000);
  const actor = standIn();
  await actor.begin_upload(...calls[0].args);
  const reply = await actor.put_chunk(calls[2].args[0]); // chunk 2 before chunk 1: a storing receiver accepts it
  assert.ok("Ok" in reply);
  const again = await actor.put_chunk(calls[2].args[0]);
  assert.equal(again.Err.Format.code, "DUPLICATE_CHUNK");
  const { unwrap } = await import("../examples/tensor-store.mjs");
  assert.throws(() => unwrap(again, "put_chunk"), (e) => e instanceof TensorCBORError && e.code === "DUPLICATE_CHUNK");
});

test("decodeGetReply takes a reply value or its Candid bytes", () => {
  const doc = encodeTensor({ dtype: "float32", shape: [2], data: new Float32Array([1, 2]) });
  const service = idlFactory({ IDL });
  const get = Object.fromEntries(service._fields).get;
  const bytes = new Uint8Array(IDL.encode(get.retTypes, [{ Ok: doc }]));
  assert.deepEqual(decodeGetReply(bytes).bytes, doc.subarray(doc.length - 8));
  assert.deepEqual(decodeGetReply({ Ok: doc }).shape, [2]);
  assert.throws(() => decodeGetReply({ Err: { NotFound: "no tensor named x" } }), /NotFound/);
});
