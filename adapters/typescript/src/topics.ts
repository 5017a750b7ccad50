/**
 * The topics a HIS uses (contracts/his.py, contracts/his_inquiry.py, contracts/his_result.py, contracts/parties.py).
 * On the broker each name carries the deployment's prefix (`YIDI_TOPIC_PREFIX`); inside a message (the envelope's
 * `type`, the sealed payload's `yidi-topic`) the name is always the unprefixed one.
 *
 * Every `his.*` command is keyed by the institution's code, so one hospital's commands stay in order, and its payload
 * names a person, so it travels sealed. It is sealed to the readers the platform names for it (runtime/wire.py
 * `readers`): the services that consume the topic in the topic registry (contracts/registry.py). Every command below
 * is consumed by the settlement service alone, so its payload is sealed to the party `settlement`.
 */
export const RESULT = "settlement.result.v2";
export const INQUIRY_ANSWERED = "settlement.inquiry-answered.v1";
export const REFUSED = "party.refused.v1";

/** What the HIS hears: every one of these is signed by a platform service. */
export const ANSWER_TOPICS = [RESULT, INQUIRY_ANSWERED, REFUSED] as const;
export type AnswerTopic = (typeof ANSWER_TOPICS)[number];

export interface CommandTopic {
  readers: readonly string[];         // registry codes the payload is sealed to
  answeredOn: typeof RESULT | typeof INQUIRY_ANSWERED;
}

const SETTLEMENT = ["settlement"] as const;

export const COMMANDS: Readonly<Record<string, CommandTopic>> = {
  "his.eligibility-requested.v1": { readers: SETTLEMENT, answeredOn: INQUIRY_ANSWERED },
  "his.outpatient-pre-settlement.v1": { readers: SETTLEMENT, answeredOn: INQUIRY_ANSWERED },
  "his.discharge-pre-settlement.v1": { readers: SETTLEMENT, answeredOn: INQUIRY_ANSWERED },
  "his.fee-detail-uploaded.v1": { readers: SETTLEMENT, answeredOn: INQUIRY_ANSWERED },
  "his.admission.v1": { readers: SETTLEMENT, answeredOn: RESULT },
  "his.outpatient-requested.v1": { readers: SETTLEMENT, answeredOn: RESULT },
  "his.settlement-requested.v1": { readers: SETTLEMENT, answeredOn: RESULT },
  "his.cancel-requested.v1": { readers: SETTLEMENT, answeredOn: RESULT },
  "his.refund-requested.v1": { readers: SETTLEMENT, answeredOn: RESULT },
};

export function command(topic: string): CommandTopic {
  const found = Object.hasOwn(COMMANDS, topic) ? COMMANDS[topic] : undefined;
  if (!found) throw new Error(`${topic} is not a HIS command topic this adapter knows`);
  return found;
}

/** `type` and `schema_version` of a topic's envelope: the name without, and the number of, its `.vN`. */
export function typeAndVersion(topic: string): { type: string; schemaVersion: number } {
  const match = /^(.+)\.v(\d+)$/.exec(topic);
  if (!match) throw new Error(`topic ${topic} does not end in .v<major>`);
  return { type: match[1] as string, schemaVersion: Number(match[2]) };
}
