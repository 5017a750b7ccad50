/**
 * Key files of a deployment's key directory, as `yidi keys init` writes them (runtime/parties.py):
 *
 * - `<party code>.private.json`: `{"code": "...", "sign": <Ed25519 private JWK with kid>, "enc": <X25519 private JWK
 *   with kid>}`, readable by the party only;
 * - `public-keys.json`: `{"<party code>": [{"kid": "...", "use": "sig"|"enc", "jwk": {"kty": "OKP", "crv": ..., "x":
 *   ...}, "valid_from"?: ISO 8601, "valid_until"?: ISO 8601}, ...], ...}`: every party's public keys, which the
 *   participant registry (contracts/data/participants.yaml) is completed with.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { importJWK, type CryptoKey, type JWK } from "jose";

import { AdapterError } from "./errors.js";

export const PUBLIC_KEYS = "public-keys.json";
const KID = /^[A-Za-z0-9_.:-]{1,64}$/;

export interface PrivateKeys {
  code: string;
  signKid: string;
  sign: CryptoKey;      // Ed25519, signs what the party sends
  encKid: string;
  enc: CryptoKey;       // X25519, opens what is sealed to the party
}

export interface PublicKeyEntry {
  kid: string;
  use: "sig" | "enc";
  jwk: JWK;
  valid_from?: string | null;
  valid_until?: string | null;
}

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new AdapterError("keys", `${what} not readable at ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new AdapterError("keys", `${what} at ${file} is not JSON`);
  }
}

function okpJwk(value: unknown, crv: "Ed25519" | "X25519", owner: string, needPrivate: boolean): JWK & { kid?: string } {
  const jwk = value as Record<string, unknown> | null;
  if (!jwk || typeof jwk !== "object" || jwk.kty !== "OKP" || jwk.crv !== crv || typeof jwk.x !== "string"
      || (needPrivate ? typeof jwk.d !== "string" : "d" in jwk)) {
    throw new AdapterError("keys", `${owner}: not an OKP ${crv} ${needPrivate ? "private" : "public"} JWK`);
  }
  return jwk as JWK & { kid?: string };
}

/** The party's own private keys: the signing key and the key that opens what is sealed to it. */
export async function loadPrivateKeys(keysDir: string, code: string): Promise<PrivateKeys> {
  const file = path.join(keysDir, `${code}.private.json`);
  const data = (await readJson(file, `the private key file of ${code}`)) as Record<string, unknown>;
  if (data?.code !== code) {
    throw new AdapterError("keys", `${file} is the key file of ${String(data?.code)}, not of ${code}`);
  }
  const sign = okpJwk(data.sign, "Ed25519", `${file} "sign"`, true);
  const enc = okpJwk(data.enc, "X25519", `${file} "enc"`, true);
  for (const [name, jwk] of [["sign", sign], ["enc", enc]] as const) {
    if (typeof jwk.kid !== "string" || !KID.test(jwk.kid)) {
      throw new AdapterError("keys", `${file} "${name}" has no valid kid`);
    }
  }
  return {
    code,
    signKid: sign.kid as string,
    sign: (await importJWK(sign, "Ed25519")) as CryptoKey,
    encKid: enc.kid as string,
    enc: (await importJWK(enc, "ECDH-ES")) as CryptoKey,
  };
}

/** Every party's public keys (`public-keys.json`). */
export class PublicKeys {
  private constructor(private readonly byParty: Map<string, PublicKeyEntry[]>) {}

  static async load(keysDir: string): Promise<PublicKeys> {
    const file = path.join(keysDir, PUBLIC_KEYS);
    const raw = await readJson(file, "the public key file");
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
      throw new AdapterError("keys", `${file} must map party codes to key lists`);
    }
    const byParty = new Map<string, PublicKeyEntry[]>();
    for (const [code, entries] of Object.entries(raw)) {
      if (Array.isArray(entries)) {
        byParty.set(code, entries.filter((e): e is PublicKeyEntry => !!e && typeof e === "object"
          && typeof e.kid === "string" && (e.use === "sig" || e.use === "enc") && !!e.jwk && typeof e.jwk === "object"));
      }
    }
    return new PublicKeys(byParty);
  }

  /**
   * The key a payload is sealed to for `code`: as the platform chooses it (ParticipantRegistry.encryption_key),
   * the party's newest encryption key that has no end of validity, an OKP X25519 public key.
   */
  async encryptionKey(code: string): Promise<{ kid: string; key: CryptoKey }> {
    const usable = (this.byParty.get(code) ?? []).filter((e) => e.use === "enc" && !e.valid_until
      && e.jwk.kty === "OKP" && e.jwk.crv === "X25519" && !("d" in e.jwk));
    const newest = usable[usable.length - 1];
    if (!newest) {
      throw new AdapterError("keys", `${code} has no encryption key in ${PUBLIC_KEYS}: nothing can be sealed to it`);
    }
    return { kid: `${code}/${newest.kid}`, key: (await importJWK(newest.jwk, "ECDH-ES+A256KW")) as CryptoKey };
  }

  /** The signing key `kid` of `code`, valid at `at`, an OKP Ed25519 public key. */
  async verificationKey(code: string, kid: string, at: Date): Promise<CryptoKey> {
    const entry = (this.byParty.get(code) ?? []).find((e) => e.use === "sig" && e.kid === kid);
    if (!entry) {
      throw new AdapterError("answer_invalid", `${code}/${kid} is not a signing key in ${PUBLIC_KEYS}`);
    }
    if ((entry.valid_from && at < new Date(entry.valid_from)) || (entry.valid_until && at >= new Date(entry.valid_until))) {
      throw new AdapterError("answer_invalid", `key ${code}/${kid} is not valid at ${at.toISOString()}`);
    }
    const jwk = okpJwk(entry.jwk, "Ed25519", `${PUBLIC_KEYS} ${code}/${kid}`, false);
    return (await importJWK(jwk, "Ed25519")) as CryptoKey;
  }
}
