// Talking to the tensor-store canister (examples/tensor-store.did) from a frontend with @icp-sdk/core:
// decode a `get` reply, read a stored model's tensors, upload a .tcb as a verified chunked stream (SPEC.md §10).
//
//   import { HttpAgent } from "@icp-sdk/core/agent";
//   const agent = await HttpAgent.create({ host: "https://icp-api.io" });   // + an identity allowed to upload
//   const store = storeActor(canisterId, agent);
//   await uploadModel(store, tcbBytes);                                     // begin_upload, put_chunk..., finish
//   const w = decodeGetReply(await store.get("layer.weight"));             // a Tensor; view(w) is a Float32Array
import { Actor } from "@icp-sdk/core/agent";
import { IDL } from "@icp-sdk/core/candid";
import { chunks, DEFAULT_MAX_SIZE, decodeTensor, TensorCBORError } from "tensorcbor";

/** The Candid interface of examples/tensor-store.did. */
export const idlFactory = ({ IDL: I }) => {
  const Error = I.Variant({
    Format: I.Record({ code: I.Text, message: I.Text }),
    Unauthorized: I.Text,
    NotFound: I.Text,
    InvalidState: I.Text,
    InvalidArgument: I.Text,
    ReplyTooLarge: I.Record({ size: I.Nat64, limit: I.Nat64 }),
  });
  const UploadStatus = I.Record({ chunks: I.Nat64, received: I.Nat64, bytes: I.Nat64, doc_length: I.Nat64 });
  const Stored = I.Record({ tensors: I.Nat64, doc_length: I.Nat64 });
  const TensorInfo = I.Record({ name: I.Text, dtype: I.Text, shape: I.Vec(I.Nat64), size: I.Nat64, doc_size: I.Nat64 });
  const Status = I.Record({ upload: I.Opt(UploadStatus), model: I.Opt(Stored), quota: I.Nat64, stable_bytes: I.Nat64 });
  const result = (ok) => I.Variant({ Ok: ok, Err: Error });
  const Blob = I.Vec(I.Nat8);
  return I.Service({
    begin_upload: I.Func([Blob, Blob], [result(UploadStatus)], []),
    put_chunk: I.Func([Blob], [result(UploadStatus)], []),
    finish: I.Func([], [result(Stored)], []),
    clear: I.Func([], [I.Variant({ Ok: I.Null, Err: Error })], []),
    status: I.Func([], [Status], ["query"]),
    list: I.Func([], [I.Vec(TensorInfo)], ["query"]),
    get: I.Func([I.Text], [result(Blob)], ["query"]),
    get_range: I.Func([I.Text, I.Nat64, I.Nat64], [result(Blob)], ["query"]),
    dense: I.Func([I.Text, I.Opt(I.Text), Blob], [result(Blob)], ["query"]),
  });
};

const service = idlFactory({ IDL });
const methods = Object.fromEntries(service._fields);

/**
 * An actor for a deployed tensor-store canister (the agent carries the identity and the host).
 * @param {string | import("@icp-sdk/core/principal").Principal} canisterId
 * @param {import("@icp-sdk/core/agent").HttpAgent} agent
 * @returns {any} the actor: one async method per method of tensor-store.did
 */
export function storeActor(canisterId, agent) {
  return Actor.createActor(idlFactory, { agent, canisterId });
}

/**
 * A Result variant's Ok value, or a thrown error naming the canister's rejection (Format errors keep their code).
 * @param {{ Ok: any } | { Err: Record<string, any> }} reply
 * @param {string} what the call, for the message
 * @returns {any}
 */
export function unwrap(reply, what) {
  if ("Ok" in reply) return reply.Ok;
  const [kind, detail] = Object.entries(reply.Err)[0];
  if (kind === "Format") throw new TensorCBORError(detail.code, 0, `${what}: ${detail.message}`);
  throw new Error(`${what}: ${kind} ${JSON.stringify(detail, (_, v) => (typeof v === "bigint" ? String(v) : v))}`);
}

/**
 * The tensor in a `get` reply: the reply value (`{ Ok: Uint8Array }`, as the actor returns it) or the raw Candid
 * reply bytes (`DIDL...`, as a proxy or a test hands them over). Decoded strictly; the elements view the blob.
 * @param {Uint8Array | { Ok: Uint8Array } | { Err: Record<string, any> }} reply
 * @returns {import("tensorcbor").Tensor}
 */
export function decodeGetReply(reply) {
  const value = reply instanceof Uint8Array ? IDL.decode(methods.get.retTypes, reply)[0] : reply;
  return decodeTensor(unwrap(value, "get"));
}

/**
 * The calls that upload a document: begin_upload(manifest, stream digest), then put_chunk for every data chunk in
 * index order, then finish. Each is { method, args, arg } where `arg` is the Candid argument bytes the agent sends.
 * @param {Uint8Array} document a tensor or bundle document (.tcb)
 * @param {number} [maxSize] the chunk size limit (default 1,900,000 bytes)
 * @returns {{ method: string, args: any[], arg: Uint8Array }[]}
 */
export function uploadCalls(document, maxSize = DEFAULT_MAX_SIZE) {
  const s = chunks(document, maxSize);
  const call = (method, args) => ({ method, args, arg: new Uint8Array(IDL.encode(methods[method].argTypes, args)) });
  return [
    call("begin_upload", [s.chunks[0], s.streamDigest]),
    ...s.chunks.slice(1).map((c) => call("put_chunk", [c])),
    call("finish", []),
  ];
}

/**
 * Upload a document through an actor, one update call per chunk (each below the 2 MiB ingress limit). A
 * rejected chunk changes nothing in the canister, so a failed put_chunk can simply be sent again.
 * @param {any} actor from `storeActor`
 * @param {Uint8Array} document a tensor or bundle document (.tcb)
 * @param {{ maxSize?: number, onProgress?: (done: number, total: number, reply: any) => void }} [options]
 * @returns {Promise<number>} the number of data chunks sent
 */
export async function uploadModel(actor, document, { maxSize = DEFAULT_MAX_SIZE, onProgress } = {}) {
  const calls = uploadCalls(document, maxSize);
  let done = 0;
  for (const c of calls) {
    const value = unwrap(await actor[c.method](...c.args), c.method);
    onProgress?.(++done, calls.length, value);
  }
  return calls.length - 2;
}
