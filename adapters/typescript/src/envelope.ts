/**
 * The envelope every message travels in (contracts/envelope.py) and the record a command becomes:
 *
 *   key      the institution code (UTF-8)
 *   value    {"event_id": uuid, "type": "<topic without .vN>", "schema_version": N, "occurred_at": ISO 8601 UTC,
 *             "correlation_id": uuid, "causation_id": null, "producer": free text, "sender": "<institution code>",
 *             "reply_to": null, "sealed_payload": <General JSON JWE of the payload>}
 *   headers  yidi-signature: detached JWS over the value's exact bytes
 *
 * A command starts a flow: its correlation_id is its own event_id, and every answer of the flow carries it.
 */
import { randomUUID } from "node:crypto";

import type { PrivateKeys, PublicKeys } from "./keys.js";
import { sealPayload, SEALED, type Reader } from "./sealing.js";
import { sign, SIGNATURE_HEADER } from "./signature.js";
import { command, typeAndVersion } from "./topics.js";

export interface Envelope {
  event_id: string;
  type: string;
  schema_version: number;
  occurred_at: string;
  correlation_id: string;
  causation_id: string | null;
  producer: string;
  sender: string | null;
  reply_to: string | null;
  payload?: unknown;
  [SEALED]?: unknown;
}

export interface WireRecord {
  topic: string;                        // unprefixed
  key: string;
  value: Buffer;
  headers: Record<string, string>;
  envelope: Envelope;                   // as sent (sealed)
}

/** The record of a HIS command: envelope built, payload sealed to the topic's readers, value signed. */
export async function commandRecord(topic: string, payload: Record<string, unknown>, options: {
  keys: PrivateKeys; publicKeys: PublicKeys; now: Date; producer: string;
}): Promise<WireRecord> {
  const { readers } = command(topic);
  const { type, schemaVersion } = typeAndVersion(topic);
  const eventId = randomUUID();
  const sealedTo: Reader[] = await Promise.all(readers.map((code) => options.publicKeys.encryptionKey(code)));
  const envelope: Envelope = {
    event_id: eventId,
    type,
    schema_version: schemaVersion,
    occurred_at: options.now.toISOString(),
    correlation_id: eventId,
    causation_id: null,
    producer: options.producer,
    sender: options.keys.code,
    reply_to: null,
    [SEALED]: await sealPayload(topic, eventId, payload, sealedTo),
  };
  const value = Buffer.from(JSON.stringify(envelope), "utf8");
  return {
    topic,
    key: String(payload.institution_code),
    value,
    headers: { [SIGNATURE_HEADER]: await sign(value, options.keys) },
    envelope,
  };
}
