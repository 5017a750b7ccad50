/**
 * What the HIS hears, checked before it is believed:
 *
 * - the record is signed (`yidi-signature`) by a platform service whose key is in `public-keys.json`, and the
 *   envelope's `sender` is that service: an answer sealed to us proves nothing by itself, since anyone can encrypt
 *   to a public key;
 * - `settlement.result.v2` and `settlement.inquiry-answered.v1` show routing fields in clear and the answer itself
 *   in `sealed` (compact JWE to the institution): the opened answer must repeat the routing fields exactly
 *   (runtime/client.py `open_result`);
 * - `party.refused.v1` is in clear (it names no person): `{refused_event_id, topic, sender, reason, rule, message,
 *   service}`.
 */
import { AdapterError } from "./errors.js";
import type { PrivateKeys, PublicKeys } from "./keys.js";
import { openSealed } from "./sealing.js";
import { verify } from "./signature.js";
import { INQUIRY_ANSWERED, REFUSED, RESULT, type AnswerTopic } from "./topics.js";
import type { Envelope } from "./envelope.js";

export const PLATFORM_SERVICES = new Set(["filing", "settlement", "clearing", "prepayment", "collab"]);
const ROUTING: Record<typeof RESULT | typeof INQUIRY_ANSWERED, readonly string[]> = {
  [RESULT]: ["institution_code", "request_id", "outcome", "reversal_request_id"],
  [INQUIRY_ANSWERED]: ["institution_code", "request_id", "kind"],
};
const PRODUCER: Record<typeof RESULT | typeof INQUIRY_ANSWERED, string> = {
  [RESULT]: "settlement",
  [INQUIRY_ANSWERED]: "settlement",
};

export type Json = Record<string, unknown>;

export interface Heard {
  topic: AnswerTopic;
  envelope: Envelope;
  payload: Json;        // what travels in clear
  content: Json;        // the opened answer (for a refusal: the payload itself)
}

function object(value: unknown): value is Json {
  return !!value && typeof value === "object" && !Array.isArray(value);
}

/**
 * The answer in a record, or null when it is addressed to another party (nothing of it is opened then). An answer
 * addressed to us that fails a check is an AdapterError `answer_invalid`.
 */
export async function hear(topic: AnswerTopic, value: Buffer | null, signature: string | undefined,
                           keys: PrivateKeys, publicKeys: PublicKeys, at: Date): Promise<Heard | null> {
  let envelope: Envelope;
  try {
    envelope = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(value ?? new Uint8Array()));
  } catch {
    return null;   // not an envelope: nothing addressed to us can be read in it
  }
  if (!object(envelope) || !object(envelope.payload)) return null;
  const payload = envelope.payload;
  const addressee = topic === REFUSED ? payload.sender : payload.institution_code;
  if (addressee !== keys.code) return null;

  const signer = await verify(value as Buffer, signature, publicKeys, at);
  if (signer !== envelope.sender) {
    throw new AdapterError("answer_invalid", `${topic}: envelope names sender ${envelope.sender}, signed by ${signer}`);
  }
  if (topic === REFUSED) {
    if (!PLATFORM_SERVICES.has(signer)) throw new AdapterError("answer_invalid", `${topic} signed by ${signer}, no service`);
    return { topic, envelope, payload, content: payload };
  }
  if (signer !== PRODUCER[topic]) {
    throw new AdapterError("answer_invalid", `${topic} is sent by ${PRODUCER[topic]}, this one by ${signer}`);
  }
  const content = await openSealed(payload.sealed, keys);
  if (!object(content)) throw new AdapterError("answer_invalid", `${topic}: the sealed answer is not a JSON object`);
  for (const field of ROUTING[topic]) {
    if ((content[field] ?? null) !== (payload[field] ?? null)) {
      throw new AdapterError("answer_invalid", `${topic}: sealed ${field} ${JSON.stringify(content[field] ?? null)} `
        + `≠ ${JSON.stringify(payload[field] ?? null)} in clear`);
    }
  }
  return { topic, envelope, payload, content };
}
