/**
 * One outpatient visit, as a HIS runs it (S-01, F-05, national 1101 / 2206 / 2207):
 *
 * 1. eligibility check 人员待遇享受检查 (`his.eligibility-requested.v1` → `settlement.inquiry-answered.v1`, kind
 *    `eligibility`): may the person settle directly here today, and under which basis;
 * 2. outpatient pre-settlement 门诊预结算 (`his.outpatient-pre-settlement.v1` → `settlement.inquiry-answered.v1`, kind
 *    `pre_settlement`): the settlement the bill would get now, changing nothing;
 * 3. settlement 门诊结算 (`his.outpatient-requested.v1` → `settlement.result.v2`): the same bill under the same request
 *    id, settled for real; its figures must be the pre-settlement's, since nothing they were computed on changed.
 */
import type { Json } from "./answers.js";
import type { HisClient } from "./client.js";
import { AdapterError } from "./errors.js";
import type { VisitCommands } from "./visit.js";

// what a real settlement must repeat of its pre-settlement (the unit test of the inquiries compares the same)
const SAME_FIGURES = ["settlement_id", "slip", "eligibility_basis", "ratio_applied", "rate_basis", "settlement_year",
  "insured_region", "treating_region", "medical_type"] as const;

export interface Summary {
  ok: true;
  institution_code: string;
  request_id: string;
  eligibility: Json;
  pre_settlement: Json;
  settlement: Json;
  figures_agree: true;
}

/** Whatever the visit reached before it stopped, for the failure line. */
export type Progress = Partial<Pick<Summary, "eligibility" | "pre_settlement" | "settlement">>;

function slipSummary(result: Json): Json {
  const slip = (result.slip ?? {}) as Json;
  return {
    outcome: result.outcome, settlement_id: result.settlement_id, total: slip.total, fund_total: slip.fund_total,
    personal_account: slip.personal_account, personal_cash: slip.personal_cash,
    funds: Array.isArray(slip.funds) ? slip.funds.map((f: Json) => ({ code: f.code, amount: f.amount })) : [],
  };
}

function refusal(step: string, result: Json): AdapterError {
  return new AdapterError("refused", `${step} refused: ${String(result.code)} ${String(result.title_zh ?? "")}: `
    + `${String(result.message ?? "")}${result.line_no ? ` (line ${String(result.line_no)})` : ""}`);
}

/** Canonical JSON (sorted members), so two answers compare by content, not by member order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Json)[k])}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

export async function settleVisit(client: HisClient, commands: VisitCommands, options: {
  producer: string; timeoutMs: number; progress: Progress;
}): Promise<Summary> {
  const { producer, timeoutMs, progress } = options;
  const ask = (topic: string, payload: Json) => client.ask(topic, payload, producer, timeoutMs);

  const eligibility = (await ask("his.eligibility-requested.v1", commands.eligibility)).content;
  if (eligibility.kind !== "eligibility") throw new AdapterError("answer_invalid", `eligibility answered as ${String(eligibility.kind)}`);
  progress.eligibility = {
    request_id: eligibility.request_id, eligible: eligibility.eligible, basis: eligibility.basis,
    reason_code: eligibility.reason_code, rule: eligibility.rule, accumulations_year: eligibility.accumulations_year,
  };
  if (eligibility.eligible !== true) {
    throw new AdapterError("not_eligible", `not eligible for direct settlement: ${String(eligibility.reason_code)} `
      + `(${String(eligibility.rule)}): ${String(eligibility.message)}`);
  }

  const pre = (await ask("his.outpatient-pre-settlement.v1", commands.preSettlement)).content;
  if (pre.kind !== "pre_settlement") throw new AdapterError("answer_invalid", `pre-settlement answered as ${String(pre.kind)}`);
  const preResult = (pre.result ?? {}) as Json;
  progress.pre_settlement = { request_id: pre.request_id, ...slipSummary(preResult) };
  if (preResult.outcome !== "completed") throw refusal("pre-settlement", preResult);

  const heard = await ask("his.outpatient-requested.v1", commands.settlement);
  const result = heard.content;
  progress.settlement = {
    request_id: result.request_id, correlation_id: heard.envelope.correlation_id, ...slipSummary(result),
    settled_on: result.settled_on, clearing_month: result.clearing_month, eligibility_basis: result.eligibility_basis,
  };
  if (result.outcome !== "completed") throw refusal("settlement", result);

  const differing = SAME_FIGURES.filter((field) => canonical(result[field]) !== canonical(preResult[field]));
  if (differing.length) {
    throw new AdapterError("figures_differ", `the settlement differs from its pre-settlement in ${differing.join(", ")}: `
      + "something it was computed on changed in between (another settlement of the person, a filing, the policy)");
  }
  return {
    ok: true,
    institution_code: String(result.institution_code),
    request_id: String(result.request_id),
    eligibility: progress.eligibility,
    pre_settlement: progress.pre_settlement,
    settlement: progress.settlement,
    figures_agree: true,
  };
}
