/**
 * Conformance adapter (conformance/README.md): the `--impl` protocol over this package, for Node.
 *
 *     adapter decode tensor|bundle   < vector bytes   -> one JSON line
 *     adapter encode tensor|bundle   < expected JSON  -> hex
 *     adapter stream                 < stream request -> one JSON line (verdicts, offsets, end, document_sha256)
 *     adapter batch                  < JSON lines     -> one JSON line per request
 */

import { Buffer } from "node:buffer";
import { createInterface } from "node:readline";
import { decodeBundle, decodeTensor } from "./decode.js";
import { encodeBundle, encodeTensor, type TensorInput } from "./encode.js";
import { TensorCBORError } from "./errors.js";
import type { MetaMap, MetaValue } from "./metadata.js";
import { sha256 } from "./sha256.js";
import { type Quota, SequentialReceiver, StoringReceiver } from "./stream.js";
import type { Tensor } from "./tensor.js";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error("not a hex string");
  return new Uint8Array(Buffer.from(s, "hex"));
}

function floatString(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (Object.is(x, -0)) return "-0";
  return String(x);
}

function metaJson(v: MetaValue): Json {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "bigint") return { int: v.toString() };
  if (typeof v === "number") return { float: floatString(v) };
  if (v instanceof Uint8Array) return { bytes: hex(v) };
  if (Array.isArray(v)) return { array: v.map(metaJson) };
  return { map: [...(v as MetaMap).entries()].map(([k, x]) => [k, metaJson(x)]) };
}

function tensorJson(t: Tensor): { [k: string]: Json } {
  const out: { [k: string]: Json } = { dtype: t.dtype, shape: [...t.shape] };
  if (t.strings) out.strings = [...t.strings];
  else out.data_hex = hex(t.bytes);
  return out;
}

function errorJson(e: unknown): { [k: string]: Json } {
  if (e instanceof TensorCBORError) return { error: e.code, offset: e.offset, message: e.message };
  throw e;
}

/** What this decoder makes of `data`, in protocol form. */
export function decodeJson(data: Uint8Array, kind: string): { [k: string]: Json } {
  try {
    if (kind === "tensor") return { kind: "tensor", ...tensorJson(decodeTensor(data)) };
    if (kind !== "bundle") throw new Error(`unknown kind ${JSON.stringify(kind)}`);
    const b = decodeBundle(data);
    const tensors = [...b.tensors.entries()].map(([name, t]) => ({ name, ...tensorJson(t) }));
    return { kind: "bundle", metadata: metaJson(b.metadata), tensors };
  } catch (e) {
    return errorJson(e);
  }
}

function parseFloatString(s: string): number {
  const special: Record<string, number> = { nan: NaN, inf: Infinity, "-inf": -Infinity, "-0": -0 };
  if (s in special) return special[s]!;
  const x = Number(s);
  if (Number.isNaN(x)) throw new Error(`bad float ${JSON.stringify(s)}`);
  return x;
}

function metaValue(j: Json): MetaValue {
  if (j === null || typeof j === "boolean" || typeof j === "string") return j;
  if (typeof j === "object" && !Array.isArray(j)) {
    const keys = Object.keys(j);
    if (keys.length === 1) {
      const body = j[keys[0]!]!;
      switch (keys[0]) {
        case "int":
          return BigInt(body as string);
        case "float":
          return parseFloatString(body as string);
        case "bytes":
          return fromHex(body as string);
        case "array":
          return (body as Json[]).map(metaValue);
        case "map": {
          const m: MetaMap = new Map();
          for (const [k, v] of body as [string, Json][]) {
            if (m.has(k)) throw new Error(`duplicate metadata key ${JSON.stringify(k)}`);
            m.set(k, metaValue(v));
          }
          return m;
        }
      }
    }
  }
  throw new Error(`not a typed metadata value: ${JSON.stringify(j).slice(0, 100)}`);
}

function tensorInput(t: { [k: string]: Json }): TensorInput {
  const base = { dtype: t.dtype as string, shape: t.shape as number[] };
  if (t.strings !== undefined) return { ...base, strings: t.strings as string[] };
  return { ...base, data: fromHex(t.data_hex as string) };
}

/** Encode a manifest `expected` value. */
export function encodeJson(value: { [k: string]: Json }, kind: string): Uint8Array {
  if (kind === "tensor") return encodeTensor(tensorInput(value));
  const tensors = (value.tensors as { [k: string]: Json }[]).map((t) => [t.name as string, tensorInput(t)] as const);
  const meta = metaValue(value.metadata!);
  if (!(meta instanceof Map)) throw new Error("metadata is not a map");
  return encodeBundle(tensors, meta);
}

/** A stream request: a fresh receiver gets every chunk in order, then the end of the stream. */
export function streamAnswer(req: { [k: string]: Json }, quota: Quota): { [k: string]: Json } {
  const expected = req.expected_digest ? fromHex(req.expected_digest as string) : null;
  const chunks = (req.chunks as string[]).map(fromHex);
  // Each chunk's verdict and, for a rejection, its byte offset in the chunk (SPEC.md §8.1); null when accepted.
  const offsets: (number | null)[] = [];
  const judged = (f: () => void): string => {
    try {
      f();
      offsets.push(null);
      return "ok";
    } catch (e) {
      if (e instanceof TensorCBORError) {
        offsets.push(e.offset);
        return e.code;
      }
      throw e;
    }
  };
  const verdict = (f: () => void): string => {
    try {
      f();
      return "ok";
    } catch (e) {
      if (e instanceof TensorCBORError) return e.code;
      throw e;
    }
  };
  const verdicts: string[] = [];
  let end: string;
  let doc: Uint8Array | null = null;
  if (req.receiver === "sequential") {
    const rx = new SequentialReceiver({ expectedDigest: expected, quota });
    const parts: Uint8Array[] = [];
    for (const c of chunks) {
      verdicts.push(judged(() => {
        const d = rx.accept(c);
        if (d) parts.push(d.payload);
      }));
    }
    end = verdict(() => rx.finish());
    if (end === "ok") doc = Buffer.concat(parts);
  } else if (req.receiver === "storing") {
    const rx = new StoringReceiver({ expectedDigest: expected, quota });
    for (const c of chunks) verdicts.push(judged(() => void rx.accept(c)));
    end = verdict(() => {
      doc = rx.finish();
    });
  } else {
    throw new Error(`unknown receiver ${JSON.stringify(req.receiver)}`);
  }
  return { verdicts, offsets, end, document_sha256: end === "ok" && doc ? hex(sha256(doc)) : null };
}

/** The exact quota of a raw stream request (JSON numbers above 2^53 lose digits in JSON.parse). */
function rawQuota(text: string): Quota {
  const m = /"quota"\s*:\s*(\d+)/.exec(text);
  return m ? BigInt(m[1]!) : null;
}

/** One request -> one answer, with the request's id. */
export function answer(line: string): { [k: string]: Json } {
  let id: Json = null;
  try {
    const req = JSON.parse(line) as { [k: string]: Json };
    id = req.id ?? null;
    let out: { [k: string]: Json };
    if (req.op === "decode") out = decodeJson(fromHex(req.hex as string), req.kind as string);
    else if (req.op === "encode") out = { hex: hex(encodeJson(req.value as { [k: string]: Json }, req.kind as string)) };
    else if (req.op === "stream") out = streamAnswer(req, rawQuota(line));
    else out = { error: `unknown op ${JSON.stringify(req.op)}` };
    return { id, ...out };
  } catch (e) {
    return { id, error: "ADAPTER_ERROR", message: e instanceof Error ? e.message : String(e) };
  }
}

async function readStdin(): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for await (const c of process.stdin) parts.push(c as Buffer);
  return new Uint8Array(Buffer.concat(parts));
}

async function main(args: string[]): Promise<number> {
  if (args[0] === "batch" && args.length === 1) {
    const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of rl) {
      if (line.trim()) process.stdout.write(JSON.stringify(answer(line)) + "\n");
    }
    return 0;
  }
  if (args[0] === "stream" && args.length === 1) {
    const text = new TextDecoder().decode(await readStdin());
    process.stdout.write(JSON.stringify(streamAnswer(JSON.parse(text), rawQuota(text))) + "\n");
    return 0;
  }
  if (args.length === 2 && (args[0] === "decode" || args[0] === "encode") && (args[1] === "tensor" || args[1] === "bundle")) {
    const input = await readStdin();
    if (args[0] === "decode") process.stdout.write(JSON.stringify(decodeJson(input, args[1])) + "\n");
    else process.stdout.write(hex(encodeJson(JSON.parse(new TextDecoder().decode(input)), args[1])) + "\n");
    return 0;
  }
  process.stderr.write("usage: adapter decode|encode tensor|bundle  |  adapter stream  |  adapter batch\n");
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
