/**
 * Sealing 封装: personal data never travels in clear on the broker (runtime/wire.py, contracts/his_result.py).
 *
 * Sending: on a topic whose payload names a person (every `his.*` command carries `person_id`), the record value is
 * the envelope with `sealed_payload` in place of `payload`: a JWE in General JSON Serialization (RFC 7516 §7.2.1).
 * The plaintext is the payload's UTF-8 JSON; the content is encrypted with A256GCM under a fresh key that is wrapped
 * for each reader with ECDH-ES+A256KW to the reader's X25519 key (recipient header `{"alg": "ECDH-ES+A256KW", "kid":
 * "<reader code>/<key id>"}`). The protected header is `{"enc": "A256GCM", "yidi-topic": "<topic without the
 * deployment's prefix>", "yidi-event": "<the envelope's event_id>"}`: it is authenticated with the content, so a
 * sealed payload moved to another topic or envelope does not open.
 *
 * Hearing: the answers (`settlement.result.v2`, `settlement.inquiry-answered.v1`) carry their content in a field
 * `sealed`: a JWE in compact serialisation, `alg` ECDH-ES (direct key agreement), `enc` A256GCM, `kid` `<institution
 * code>/<key id>`, encrypted to the institution's X25519 key.
 */
import { compactDecrypt, decodeProtectedHeader, GeneralEncrypt, type CryptoKey, type GeneralJWE } from "jose";

import { AdapterError } from "./errors.js";
import type { PrivateKeys } from "./keys.js";

export const SEALED = "sealed_payload";
export const KEY_WRAP = "ECDH-ES+A256KW";
export const CONTENT = "A256GCM";
export const TOPIC_HEADER = "yidi-topic";
export const EVENT_HEADER = "yidi-event";
const ANSWER_ALG = "ECDH-ES";

export interface Reader {
  kid: string;       // "<reader code>/<key id>"
  key: CryptoKey;    // the reader's X25519 public key
}

/** `payload` sealed for `readers`, bound to `topic` (unprefixed) and `eventId`. */
export async function sealPayload(topic: string, eventId: string, payload: unknown, readers: Reader[]): Promise<GeneralJWE> {
  if (!readers.length) throw new AdapterError("keys", `${topic}: no reader to seal the payload to`);
  const plaintext = new TextEncoder().encode(JSON.stringify(payload));
  const message = new GeneralEncrypt(plaintext)
    .setProtectedHeader({ enc: CONTENT, [TOPIC_HEADER]: topic, [EVENT_HEADER]: eventId });
  for (const reader of readers) {
    message.addRecipient(reader.key).setUnprotectedHeader({ alg: KEY_WRAP, kid: reader.kid });
  }
  return message.encrypt();
}

/** The plaintext of a compact JWE sealed to this party (ECDH-ES + A256GCM, kid `<own code>/...`), as JSON. */
export async function openSealed(token: unknown, keys: PrivateKeys): Promise<unknown> {
  if (typeof token !== "string" || token.split(".").length !== 5) {
    throw new AdapterError("answer_invalid", "'sealed' is not a JWE in compact serialisation");
  }
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>;
  } catch {
    throw new AdapterError("answer_invalid", "'sealed' has no readable protected header");
  }
  if (header.alg !== ANSWER_ALG || header.enc !== CONTENT || "zip" in header) {
    throw new AdapterError("answer_invalid", `a sealed answer is ${ANSWER_ALG} with ${CONTENT}, no zip: got alg `
      + `${JSON.stringify(header.alg)} enc ${JSON.stringify(header.enc)}`);
  }
  if (String(header.kid ?? "").split("/")[0] !== keys.code) {
    throw new AdapterError("answer_invalid", `sealed to ${JSON.stringify(header.kid)}, not to ${keys.code}`);
  }
  let plaintext: Uint8Array;
  try {
    ({ plaintext } = await compactDecrypt(token, keys.enc,
      { keyManagementAlgorithms: [ANSWER_ALG], contentEncryptionAlgorithms: [CONTENT] }));
  } catch (error) {
    throw new AdapterError("answer_invalid", `${keys.code} cannot open the sealed answer: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plaintext));
  } catch {
    throw new AdapterError("answer_invalid", "the sealed answer is not UTF-8 JSON");
  }
}
