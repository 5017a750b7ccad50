/**
 * Every failure the adapter reports is an AdapterError with a short class (`kind`) a caller can act on, and a
 * message that names what is wrong. No message ever carries a person's ID number: the adapter only names request
 * ids, topics, codes and fields.
 */
export type FailureKind =
  | "config"          // the adapter's own configuration or input files are wrong: fix them and run again
  | "keys"            // a key file is missing or not what it must be
  | "broker"          // Kafka could not be reached or refused a record
  | "timeout"         // no answer within the wait
  | "refused"         // the platform answered with a refusal (party.refused.v1, or a refused result)
  | "not_eligible"    // the eligibility check said the visit cannot settle directly
  | "answer_invalid"  // an answer that is not what the contract says: unsigned, sealed to another, fields disagree
  | "figures_differ"; // the settlement's figures are not the pre-settlement's

export class AdapterError extends Error {
  constructor(readonly kind: FailureKind, message: string) {
    super(message);
    this.name = "AdapterError";
  }
}
