#!/usr/bin/env node
/**
 * The reference HIS adapter's command line. `run` settles one outpatient visit (flow.ts) and prints one JSON line on
 * stdout: `{"ok": true, …}` and exit 0, or `{"ok": false, "failure": <kind>, "message": …, …}` and exit 1 (2 for a
 * configuration error), the message repeated on stderr. `record` prints the record a command would become, for
 * checking an implementation against this one.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

import { HisClient } from "./client.js";
import { parse, settings, usage, type Config } from "./config.js";
import { commandRecord } from "./envelope.js";
import { AdapterError } from "./errors.js";
import { settleVisit, type Progress } from "./flow.js";
import { loadPrivateKeys, PublicKeys } from "./keys.js";
import { command } from "./topics.js";
import { checkPersonId, readBill, visitCommands } from "./visit.js";

/** The business date in China (Asia/Shanghai), YYYY-MM-DD: the visit's date. */
function chinaDate(at: Date): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" })
    .format(at);
}

function clockOf(config: Config): () => Date {
  return () => new Date(Date.now() + config.businessOffsetMs);
}

async function run(config: Config, progress: Progress): Promise<unknown> {
  if (!config.personId) throw new AdapterError("config", "no person: set YIDI_HIS_PERSON_ID (or --person-id)");
  const personId = checkPersonId(config.personId);
  const bill = await readBill(config.bill);
  const keys = await loadPrivateKeys(config.keysDir, config.institution);
  const publicKeys = await PublicKeys.load(config.keysDir);
  const now = clockOf(config);
  const visitDate = chinaDate(now());
  const compact = visitDate.replaceAll("-", "");
  const commands = visitCommands(bill, {
    institution: config.institution, personId, visitDate,
    requestId: config.requestId ?? `${config.institution}-${compact}-${randomBytes(4).toString("hex")}`,
    visitId: bill.visitId ?? `MZ${compact}${randomBytes(3).toString("hex").toUpperCase()}`,
  });
  const client = new HisClient({
    brokers: config.brokers, prefix: config.prefix, keys, publicKeys, group: config.group, now,
    sasl: config.sasl, ssl: config.ssl, logLevel: config.logLevel,
    warn: (message) => process.stderr.write(`his-adapter: ${message}\n`),
  });
  try {
    await client.start(config.timeoutMs);
    return await settleVisit(client, commands, { producer: `his-adapter:${config.institution}`, timeoutMs: config.timeoutMs, progress });
  } finally {
    await client.stop();
  }
}

async function record(config: Config, topic: string | undefined): Promise<unknown> {
  if (!topic) throw new AdapterError("config", "record needs --topic");
  try {
    command(topic);
  } catch (error) {
    throw new AdapterError("config", (error as Error).message);
  }
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(readFileSync(0, "utf8"));
  } catch (error) {
    throw new AdapterError("config", `the command on stdin is not JSON: ${(error as Error).message}`);
  }
  if (!payload || typeof payload !== "object" || Array.isArray(payload)) throw new AdapterError("config", "the command must be a JSON object");
  if (payload.institution_code !== config.institution) {
    throw new AdapterError("config", `the command names institution ${String(payload.institution_code)}, the adapter speaks for ${config.institution}`);
  }
  const keys = await loadPrivateKeys(config.keysDir, config.institution);
  const wire = await commandRecord(topic, payload, {
    keys, publicKeys: await PublicKeys.load(config.keysDir), now: clockOf(config)(), producer: `his-adapter:${config.institution}`,
  });
  return { topic: config.prefix + topic, key: wire.key, value: wire.value.toString("utf8"), headers: wire.headers };
}

async function main(): Promise<number> {
  const progress: Progress = {};
  try {
    const { command: name, values, extra } = parse(process.argv.slice(2), process.env);
    if (name === "help") {
      process.stdout.write(usage() + "\n");
      return 0;
    }
    if (name !== "run" && name !== "record") throw new AdapterError("config", `unknown command ${name}\n${usage()}`);
    const config = settings(values);
    const out = name === "run" ? await run(config, progress) : await record(config, extra.topic);
    process.stdout.write(JSON.stringify(out) + "\n");
    return 0;
  } catch (error) {
    const failure = error instanceof AdapterError ? error : new AdapterError("broker", String((error as Error)?.stack ?? error));
    process.stderr.write(`his-adapter: ${failure.kind}: ${failure.message}\n`);
    process.stdout.write(JSON.stringify({ ok: false, failure: failure.kind, message: failure.message, ...progress }) + "\n");
    return failure.kind === "config" ? 2 : 1;
  }
}

process.exitCode = await main();
