/**
 * The visit a HIS settles: what its bill file says (the header fields that do not change between the steps, and the
 * fee lines), completed with what the run supplies (institution, person, ids, dates), and the three commands built
 * from it (contracts/his.py VisitHeader, OutpatientVisitRequested; contracts/his_inquiry.py EligibilityRequested,
 * OutpatientPreSettlementRequested).
 *
 * The platform checks everything again and refuses a bad command with the field named; the checks here catch a
 * broken bill file before anything is sent, with the same bounds. Amounts and quantities are decimal strings, never
 * JSON numbers (M-01: a float cannot hold 0.10 yuan exactly).
 */
import { readFile } from "node:fs/promises";

import { AdapterError } from "./errors.js";

const MAX_LINES = 3072;
const MONEY = /^\d{1,9}(\.\d{1,2})?$/;            // up to 100,000,000.00 yuan, two decimals at most
const QUANTITY = /^\d{1,7}(\.\d{1,4})?$/;
const ITEM_CODE = /^[0-9A-Za-z._-]{1,50}$/;
const ICD10 = /^[A-Z]\d{2}(\.[0-9A-Z]{1,4})?$/;
const REGION = /^\d{6}$/;
const ENUMS = {
  medical_type: ["general_outpatient", "chronic_outpatient", "pharmacy"],   // the outpatient kinds: inpatient discharges
  credential_type: ["e_voucher", "ssc", "id_card"],
  insurance_type: ["310", "390"],
  hospital_level: ["1", "2", "3", "community", "pharmacy"],
} as const;
const FLAGS = ["emergency", "trauma", "third_party_liability", "trauma_commitment_signed"] as const;
const LINE_FIELDS = new Set(["line_no", "item_code", "item_name", "his_class", "quantity", "unit_price", "amount",
  "occurred_on", "outside_form_no"]);

export interface Bill {
  header: Record<string, unknown>;       // medical type, credential, insurance, regions, level, flags, diagnoses
  visitId?: string;
  feeLines: Record<string, unknown>[];
}

function fail(where: string, what: string): never {
  throw new AdapterError("config", `bill ${where}: ${what}`);
}

function text(value: unknown, where: string, max: number, pattern?: RegExp): string {
  if (typeof value !== "string" || !value.length || value.length > max || (pattern && !pattern.test(value))) {
    fail(where, `must be a string of 1 to ${max} characters${pattern ? ` matching ${pattern.source}` : ""}`);
  }
  return value;
}

/** Reads and checks a bill file (see samples/outpatient-bill.json; members starting with "_" are comments). */
export async function readBill(file: string): Promise<Bill> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new AdapterError("config", `bill file ${file}: ${(error as Error).message}`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) fail(file, "must be a JSON object");
  const bill = raw as Record<string, unknown>;
  const known = new Set<string>([...Object.keys(ENUMS), ...FLAGS, "insured_region", "treating_region", "diagnoses",
    "chronic_disease_code", "visit_id", "fee_lines"]);
  const unknown = Object.keys(bill).filter((k) => !k.startsWith("_") && !known.has(k));
  if (unknown.length) fail(file, `unknown members ${unknown.join(", ")} (the person, institution, ids and dates are not `
    + "part of a bill file: the run supplies them)");

  const header: Record<string, unknown> = {};
  for (const [field, allowed] of Object.entries(ENUMS)) {
    if (!(allowed as readonly unknown[]).includes(bill[field])) fail(field, `must be one of ${allowed.join(", ")}`);
    header[field] = bill[field];
  }
  for (const field of ["insured_region", "treating_region"]) header[field] = text(bill[field], field, 6, REGION);
  for (const flag of FLAGS) {
    if (flag in bill) {
      if (typeof bill[flag] !== "boolean") fail(flag, "must be true or false");
      header[flag] = bill[flag];
    }
  }
  if ("chronic_disease_code" in bill) header.chronic_disease_code = text(bill.chronic_disease_code, "chronic_disease_code", 20);
  if (header.medical_type === "chronic_outpatient" && !header.chronic_disease_code) {
    fail("chronic_disease_code", "a chronic outpatient visit names its disease (S-13)");
  }
  const diagnoses = bill.diagnoses;
  if (!Array.isArray(diagnoses) || diagnoses.length < 1 || diagnoses.length > 20) fail("diagnoses", "1 to 20, main first");
  header.diagnoses = diagnoses.map((d: unknown, i) => {
    const dx = (d ?? {}) as Record<string, unknown>;
    return { code: text(dx.code, `diagnoses[${i}].code`, 10, ICD10), name: text(dx.name, `diagnoses[${i}].name`, 200) };
  });

  const lines = bill.fee_lines;
  if (!Array.isArray(lines) || lines.length < 1 || lines.length > MAX_LINES) fail("fee_lines", `1 to ${MAX_LINES} lines`);
  const seen = new Set<number>();
  const feeLines = lines.map((l: unknown, i) => {
    const line = (l ?? {}) as Record<string, unknown>;
    const where = `fee_lines[${i}]`;
    const extra = Object.keys(line).filter((k) => !LINE_FIELDS.has(k));
    if (extra.length) fail(where, `unknown members ${extra.join(", ")}`);
    if (!Number.isInteger(line.line_no) || (line.line_no as number) < 1 || (line.line_no as number) > 999_999) {
      fail(`${where}.line_no`, "must be an integer from 1 to 999999");
    }
    if (seen.has(line.line_no as number)) fail(`${where}.line_no`, `${line.line_no} is repeated`);
    seen.add(line.line_no as number);
    text(line.item_code, `${where}.item_code`, 50, ITEM_CODE);
    text(line.item_name, `${where}.item_name`, 200);
    text(line.quantity, `${where}.quantity`, 12, QUANTITY);
    text(line.unit_price, `${where}.unit_price`, 12, MONEY);
    text(line.amount, `${where}.amount`, 12, MONEY);
    if (line.his_class !== undefined && !["A", "B", "C"].includes(line.his_class as string)) {
      fail(`${where}.his_class`, "must be A, B or C");
    }
    return line;
  });
  const visitId = bill.visit_id === undefined ? undefined : text(bill.visit_id, "visit_id", 64);
  return { header, visitId, feeLines };
}

/** GB 11643: 17 digits and a check digit (or X). The message never repeats the number. */
export function checkPersonId(personId: string): string {
  const id = personId.trim().toUpperCase();
  if (!/^\d{17}[\dX]$/.test(id)) throw new AdapterError("config", "person id must be 18 characters: 17 digits and a check digit or X");
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = weights.reduce((total, w, i) => total + w * Number(id[i]), 0);
  if ("10X98765432"[sum % 11] !== id[17]) throw new AdapterError("config", "person id check digit is wrong (GB 11643)");
  return id;
}

export interface VisitCommands {
  eligibility: Record<string, unknown>;       // his.eligibility-requested.v1
  preSettlement: Record<string, unknown>;     // his.outpatient-pre-settlement.v1
  settlement: Record<string, unknown>;        // his.outpatient-requested.v1: the same bill, the same request id
}

/**
 * The three commands of one visit. The pre-settlement and the settlement carry the same bill under the same
 * request_id, so the platform computes the same settlement (and settlement id) for both unless something it was
 * computed on changed in between; the eligibility check has its own request id.
 */
export function visitCommands(bill: Bill, run: { institution: string; personId: string; requestId: string;
  visitId: string; visitDate: string }): VisitCommands {
  const header = { ...bill.header, person_id: run.personId, institution_code: run.institution, visit_id: run.visitId };
  const visit = { ...header, request_id: run.requestId, visit_date: run.visitDate, fee_lines: bill.feeLines };
  return {
    eligibility: { ...header, request_id: `${run.requestId}-E`, on: run.visitDate },
    preSettlement: visit,
    settlement: visit,
  };
}
