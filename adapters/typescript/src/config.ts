/**
 * The adapter's settings: each from a command-line option or, when the option is not given, an environment variable
 * (the platform's own names where it has one). The person's ID number is best given in the environment: a process's
 * arguments are visible to every user of the machine, its environment only to its owner.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { logLevel } from "kafkajs";
import type { KafkaConfig } from "kafkajs";

import { AdapterError } from "./errors.js";

export const SETTINGS = {
  "bootstrap-servers": { env: "KAFKA_BOOTSTRAP_SERVERS", help: "Kafka brokers, host:port[,host:port…] (default 127.0.0.1:9092)" },
  "topic-prefix": { env: "YIDI_TOPIC_PREFIX", help: "the deployment's topic prefix (default none)" },
  "keys-dir": { env: "YIDI_KEYS_DIR", help: "key directory: <code>.private.json and public-keys.json (default var/keys)" },
  institution: { env: "YIDI_HIS_INSTITUTION", help: "the institution's registry code, e.g. H42010200001" },
  "person-id": { env: "YIDI_HIS_PERSON_ID", help: "the patient's citizen ID number (prefer the environment)" },
  "business-time": { env: "YIDI_HIS_BUSINESS_TIME", help: "the platform's business time now, ISO 8601 with offset (default: the wall clock)" },
  bill: { env: "YIDI_HIS_BILL", help: "the bill file (default: samples/outpatient-bill.json)" },
  "request-id": { env: "YIDI_HIS_REQUEST_ID", help: "the bill's request id (default <institution>-<date>-<random>)" },
  group: { env: "YIDI_HIS_GROUP", help: "consumer group for the answers, <institution>-… (default <institution>-his-adapter)" },
  "timeout-seconds": { env: "YIDI_HIS_TIMEOUT_SECONDS", help: "how long to wait for each answer (default 60)" },
  "security-protocol": { env: "YIDI_KAFKA_SECURITY_PROTOCOL", help: "PLAINTEXT | SASL_PLAINTEXT | SASL_SSL (default PLAINTEXT)" },
  "sasl-mechanism": { env: "YIDI_KAFKA_SASL_MECHANISM", help: "SCRAM-SHA-512 | SCRAM-SHA-256 | PLAIN (default SCRAM-SHA-512)" },
  "sasl-username": { env: "YIDI_KAFKA_SASL_USERNAME", help: "the principal (the institution's code)" },
  "sasl-password": { env: "YIDI_KAFKA_SASL_PASSWORD", help: "its password (environment only: never give it as an argument)" },
  "log-level": { env: "YIDI_HIS_LOG_LEVEL", help: "Kafka client log level on stderr: error | warn | info | debug (default warn)" },
} as const;

export interface Config {
  brokers: string[];
  prefix: string;
  keysDir: string;
  institution: string;
  personId?: string;
  businessOffsetMs: number;      // business time − wall time
  bill: string;
  requestId?: string;
  group: string;
  timeoutMs: number;
  sasl?: KafkaConfig["sasl"];
  ssl: boolean;
  logLevel: logLevel;
}

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const INSTITUTION = /^[HP]\d{11}$/;
const ISO_AWARE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const LEVELS: Record<string, logLevel> = { error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO, debug: logLevel.DEBUG };
const MECHANISMS = { "SCRAM-SHA-512": "scram-sha-512", "SCRAM-SHA-256": "scram-sha-256", PLAIN: "plain" } as const;

function bad(message: string): never {
  throw new AdapterError("config", message);
}

/** The command (`run`, `record`) and its settings, from `argv` and `env`. */
export function parse(argv: string[], env: NodeJS.ProcessEnv): { command: string; values: Record<string, string | undefined>; extra: Record<string, string | undefined> } {
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: {
        ...Object.fromEntries(Object.keys(SETTINGS).map((name) => [name, { type: "string" as const }])),
        topic: { type: "string" }, help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    bad((error as Error).message);
  }
  const command = parsed.values.help ? "help" : parsed.positionals[0] ?? "help";
  if (parsed.positionals.length > 1) bad(`one command expected, got ${parsed.positionals.join(" ")}`);
  if (parsed.values["sasl-password"] !== undefined) bad("give the SASL password in YIDI_KAFKA_SASL_PASSWORD, not as an argument");
  const values: Record<string, string | undefined> = {};
  for (const [name, { env: variable }] of Object.entries(SETTINGS)) {
    const given = parsed.values[name] as string | undefined;
    values[name] = given ?? (env[variable] !== undefined && env[variable] !== "" ? env[variable] : undefined);
  }
  return { command, values, extra: { topic: parsed.values.topic as string | undefined } };
}

export function settings(values: Record<string, string | undefined>): Config {
  const institution = (values.institution ?? "").trim().toUpperCase();
  if (!INSTITUTION.test(institution)) bad("institution must be a registry code: H or P and 11 digits, e.g. H42010200001 "
    + `(--institution or ${SETTINGS.institution.env})`);
  const brokers = (values["bootstrap-servers"] ?? "127.0.0.1:9092").split(",").map((b) => b.trim()).filter(Boolean);
  if (!brokers.length || brokers.some((b) => !/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(b))) bad("bootstrap servers must be host:port[,host:port…]");
  const prefix = values["topic-prefix"] ?? "";
  if (!/^[A-Za-z0-9._-]{0,100}$/.test(prefix)) bad("topic prefix may hold letters, digits, '.', '_' and '-' only");

  let businessOffsetMs = 0;
  const businessTime = values["business-time"];
  if (businessTime !== undefined) {
    const at = ISO_AWARE.test(businessTime) ? Date.parse(businessTime) : NaN;
    if (Number.isNaN(at)) bad("business time must be ISO 8601 with an offset, e.g. 2025-03-12T09:00:00+08:00");
    businessOffsetMs = at - Date.now();
  }
  const group = values.group ?? `${institution}-his-adapter`;
  if (!group.startsWith(`${institution}-`) || !/^[A-Za-z0-9._-]{1,200}$/.test(group)) {
    bad(`the consumer group must be named ${institution}-… (the broker lets a party use only its own groups)`);
  }
  const timeout = Number(values["timeout-seconds"] ?? "60");
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 3600) bad("timeout must be a number of seconds, above 0, at most 3600");

  const protocol = values["security-protocol"] ?? "PLAINTEXT";
  if (!["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"].includes(protocol)) bad("security protocol must be PLAINTEXT, SASL_PLAINTEXT or SASL_SSL");
  let sasl: KafkaConfig["sasl"];
  if (protocol !== "PLAINTEXT") {
    const mechanism = MECHANISMS[(values["sasl-mechanism"] ?? "SCRAM-SHA-512") as keyof typeof MECHANISMS];
    if (!mechanism) bad("SASL mechanism must be SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN");
    const username = values["sasl-username"];
    const password = values["sasl-password"];
    if (!username || !password) bad(`${protocol} needs YIDI_KAFKA_SASL_USERNAME and YIDI_KAFKA_SASL_PASSWORD`);
    sasl = { mechanism, username, password } as KafkaConfig["sasl"];
  }
  const level = LEVELS[(values["log-level"] ?? "warn").toLowerCase()];
  if (level === undefined) bad("log level must be error, warn, info or debug");
  const requestId = values["request-id"];
  if (requestId !== undefined && !/^[A-Za-z0-9._:-]{1,60}$/.test(requestId)) {
    bad("request id: 1 to 60 letters, digits, '.', '_', ':' or '-'");
  }
  return {
    brokers, prefix, institution, group, businessOffsetMs, sasl, requestId,
    keysDir: values["keys-dir"] ?? "var/keys",
    personId: values["person-id"],
    bill: values.bill ?? path.join(PACKAGE_ROOT, "samples", "outpatient-bill.json"),
    timeoutMs: timeout * 1000,
    ssl: protocol === "SASL_SSL",
    logLevel: level,
  };
}

export function usage(): string {
  const rows = Object.entries(SETTINGS).map(([name, { env, help }]) => `  --${name.padEnd(18)} ${env.padEnd(30)} ${help}`);
  return [
    "usage: node dist/cli.js run [options]      eligibility check, pre-settlement and settlement of one outpatient bill",
    "       node dist/cli.js record --topic T   the signed, sealed record of the command read from stdin (nothing sent)",
    "",
    "  option               environment variable           meaning",
    ...rows,
  ].join("\n");
}
