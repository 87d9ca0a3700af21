// The conformance suite (conformance/v1, conformance/stream-v1) as the tests read it.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export function suite(name = "v1") {
  const dir = `${ROOT}conformance/${name}/`;
  const manifest = JSON.parse(readFileSync(dir + "manifest.json", "utf8"));
  return manifest.vectors.map((v) => ({ ...v, bytes: () => new Uint8Array(readFileSync(dir + v.file)) }));
}

export const hex = (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
export const unhex = (s) => new Uint8Array(Buffer.from(s, "hex"));
