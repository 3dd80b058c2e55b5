/**
 * AES-256-GCM sealing of small secrets (shop Admin API tokens) for storage in D1.
 * `CREDENTIALS_KEY` is a key ring: comma-separated `keyId:base64(32 random bytes)`; the first
 * key seals, every key opens, so a rotation puts the new key first, re-seals, then drops the old.
 * The additional data binds a sealed value to the row it belongs to (a token copied to another
 * shop's row does not open). Pure WebCrypto, no I/O.
 */
import { toBase64, utf8 } from "./crypto";

export interface SealedValue {
  keyId: string;
  /** base64 of the 12-byte nonce */
  iv: string;
  /** base64 of ciphertext + tag */
  sealed: string;
}

export type KeyRingResult = { ok: true; keys: Array<{ id: string; key: CryptoKey }> } | { ok: false; message: string };

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const USAGE =
  "CREDENTIALS_KEY must be comma-separated keyId:base64key entries with 32-byte keys, e.g. k1:$(openssl rand -base64 32).";

export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Parses the key ring; never echoes key material in its messages. */
export async function keyRing(secret: string | undefined): Promise<KeyRingResult> {
  const entries = (secret ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) return { ok: false, message: `CREDENTIALS_KEY is not set. ${USAGE}` };
  const keys: Array<{ id: string; key: CryptoKey }> = [];
  for (const entry of entries) {
    const at = entry.indexOf(":");
    const id = entry.slice(0, at);
    if (at < 1 || !KEY_ID.test(id)) return { ok: false, message: USAGE };
    let raw: Uint8Array;
    try {
      raw = fromBase64(entry.slice(at + 1));
    } catch {
      return { ok: false, message: `CREDENTIALS_KEY entry "${id}" is not base64. ${USAGE}` };
    }
    if (raw.byteLength !== 32) return { ok: false, message: `CREDENTIALS_KEY entry "${id}" is not 32 bytes. ${USAGE}` };
    if (keys.some((k) => k.id === id)) return { ok: false, message: `CREDENTIALS_KEY names "${id}" twice.` };
    const key = await crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
    keys.push({ id, key });
  }
  return { ok: true, keys };
}

export async function seal(
  keys: Array<{ id: string; key: CryptoKey }>,
  plaintext: string,
  context: string,
): Promise<SealedValue> {
  const current = keys[0];
  if (!current) throw new Error("empty key ring");
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: utf8(context) },
    current.key,
    utf8(plaintext),
  );
  return { keyId: current.id, iv: toBase64(iv), sealed: toBase64(new Uint8Array(sealed)) };
}

export type OpenResult = { ok: true; plaintext: string } | { ok: false; reason: "unknown_key" | "corrupt" };

export async function open(
  keys: Array<{ id: string; key: CryptoKey }>,
  value: SealedValue,
  context: string,
): Promise<OpenResult> {
  const entry = keys.find((k) => k.id === value.keyId);
  if (!entry) return { ok: false, reason: "unknown_key" };
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64(value.iv), additionalData: utf8(context) },
      entry.key,
      fromBase64(value.sealed),
    );
    return { ok: true, plaintext: new TextDecoder().decode(plain) };
  } catch {
    return { ok: false, reason: "corrupt" };
  }
}
