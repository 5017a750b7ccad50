/**
 * The signature of a record (contracts/parties.py): the Kafka record header `yidi-signature` holds a JWS in compact
 * serialisation with a *detached* payload, `<protected>..<signature>` (the middle segment empty). The payload it
 * signs is the record value, byte for byte, as it goes on the wire (after sealing). The protected header is
 * `{"alg": "Ed25519", "kid": "<party code>/<key id>"}` and nothing else but an optional `typ`.
 *
 * `Ed25519` is RFC 9864's fully specified name; the platform also accepts RFC 8037's `EdDSA` over the same key.
 */
import { flattenedVerify, FlattenedSign, type CryptoKey } from "jose";

import { AdapterError } from "./errors.js";
import type { PrivateKeys, PublicKeys } from "./keys.js";

export const SIGNATURE_HEADER = "yidi-signature";
export const SIGN_ALG = "Ed25519";
const ACCEPTED_ALGS = new Set([SIGN_ALG, "EdDSA"]);
const HEADER_MEMBERS = new Set(["alg", "kid", "typ"]);
const KID = /^([A-Za-z0-9_.-]{2,32})\/([A-Za-z0-9_.:-]{1,64})$/;
const B64URL = /^[A-Za-z0-9_-]+$/;
const MAX_SIGNATURE = 1024;

/** The `yidi-signature` value for `value`, signed as the party of `keys`. */
export async function sign(value: Uint8Array, keys: PrivateKeys): Promise<string> {
  const jws = await new FlattenedSign(value)
    .setProtectedHeader({ alg: SIGN_ALG, kid: `${keys.code}/${keys.signKid}` })
    .sign(keys.sign);
  return `${jws.protected}..${jws.signature}`;
}

/**
 * The party code that signed `value`, after checking the token as strictly as the platform does: detached, a header
 * of alg/kid/typ only, an accepted alg, a kid `<party>/<key>` naming a signing key of `public-keys.json` valid at `at`.
 */
export async function verify(value: Uint8Array, token: string | undefined, keys: PublicKeys, at: Date): Promise<string> {
  if (!token) throw new AdapterError("answer_invalid", `no ${SIGNATURE_HEADER} header: the record is not signed`);
  if (token.length > MAX_SIGNATURE) throw new AdapterError("answer_invalid", "signature too long");
  const parts = token.split(".");
  if (parts.length !== 3 || parts[1] !== "" || !B64URL.test(parts[0] ?? "") || !B64URL.test(parts[2] ?? "")) {
    throw new AdapterError("answer_invalid", "signature is not a detached compact JWS '<header>..<signature>'");
  }
  const [protectedSegment, , signature] = parts as [string, string, string];
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(protectedSegment, "base64url").toString("utf8"));
  } catch {
    throw new AdapterError("answer_invalid", "signature header is not JSON");
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) {
    throw new AdapterError("answer_invalid", "signature header is not a JSON object");
  }
  const extra = Object.keys(header).filter((member) => !HEADER_MEMBERS.has(member));
  if (extra.length) throw new AdapterError("answer_invalid", `signature header members not allowed: ${extra.sort().join(", ")}`);
  if (typeof header.alg !== "string" || !ACCEPTED_ALGS.has(header.alg)) {
    throw new AdapterError("answer_invalid", `signature alg must be ${SIGN_ALG} (or EdDSA), got ${JSON.stringify(header.alg)}`);
  }
  const kid = typeof header.kid === "string" ? KID.exec(header.kid) : null;
  if (!kid) throw new AdapterError("answer_invalid", "signature kid must be '<party>/<key>'");
  const [, code, keyId] = kid as unknown as [string, string, string];
  const key: CryptoKey = await keys.verificationKey(code, keyId, at);
  try {
    // the signing input is `<header>.<base64url(value)>`: jose takes a Uint8Array payload as already encoded
    // (b64: false), so the value is given base64url-encoded; "EdDSA" and "Ed25519" verify alike with an Ed25519 key
    await flattenedVerify({ protected: protectedSegment, payload: Buffer.from(value).toString("base64url"), signature }, key,
      { algorithms: [...ACCEPTED_ALGS] });
  } catch {
    throw new AdapterError("answer_invalid", `signature of ${code}/${keyId} does not verify`);
  }
  return code;
}
