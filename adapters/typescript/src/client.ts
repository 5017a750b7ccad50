/**
 * A HIS's connection to the platform over Kafka: one producer for the commands, one consumer (its own group, named
 * `<institution code>-…` as the broker's ACLs require) for the answers, and the waits in between.
 *
 * Broker settings that matter:
 * - acks all and no idempotent producer: the embedded broker (Tansu) does not implement InitProducerId, and a
 *   command that is sent twice is harmless anyway (its request_id is the platform's idempotency key);
 * - one request in flight, so a retried send cannot overtake the one after it (a hospital's commands stay in order);
 * - the Java client's partitioner (murmur2 of the key), as the platform's own producers use, so every sender puts
 *   one institution's records on the same partition;
 * - topics are never created by the adapter (a HIS may not; the platform creates them);
 * - a consumer group that has never committed starts from the beginning of the answer topics, so an answer that came
 *   while the adapter was away (or before its consumer had joined) is still heard; after that it resumes from its
 *   committed offsets.
 */
import { Kafka, logLevel, Partitioners, type Consumer, type KafkaConfig, type LogEntry, type Producer } from "kafkajs";

import { hear, type Heard } from "./answers.js";
import { commandRecord, type Envelope } from "./envelope.js";
import { AdapterError } from "./errors.js";
import type { PrivateKeys, PublicKeys } from "./keys.js";
import { SIGNATURE_HEADER } from "./signature.js";
import { ANSWER_TOPICS, command, REFUSED, type AnswerTopic } from "./topics.js";

export interface ClientOptions {
  brokers: string[];
  prefix: string;
  keys: PrivateKeys;
  publicKeys: PublicKeys;
  group: string;
  now: () => Date;                       // the business clock the platform is on
  sasl?: KafkaConfig["sasl"];
  ssl?: boolean;
  logLevel?: logLevel;
  warn?: (message: string) => void;      // what the adapter reports along the way (stderr)
}

interface Waiter {
  topic: AnswerTopic;                    // where the answer comes
  requestId: string;
  resolve: (heard: Heard) => void;
  reject: (error: AdapterError) => void;
  discarded: string[];                   // why records that looked like the answer were not believed
}

const LEVEL_NAMES: Record<number, string> = {
  [logLevel.ERROR]: "ERROR", [logLevel.WARN]: "WARNING", [logLevel.INFO]: "INFO", [logLevel.DEBUG]: "DEBUG",
};

/** kafkajs logs through console.info (stdout) by default: here every line goes to stderr, stdout stays the result's. */
function stderrLogger() {
  return ({ namespace, level, log }: LogEntry) => {
    const { message, timestamp, stack, ...extra } = log as typeof log & { stack?: string };
    const entry = { ...extra, timestamp, level: LEVEL_NAMES[level] ?? String(level), logger: `kafkajs.${namespace}`, message };
    process.stderr.write(JSON.stringify(level >= logLevel.DEBUG ? { ...entry, stack } : entry) + "\n");
  };
}

export class HisClient {
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly consumer: Consumer;
  private readonly waiters = new Map<string, Waiter>();   // by the command's event_id (= the flow's correlation_id)
  private crashed: AdapterError | null = null;

  constructor(private readonly options: ClientOptions) {
    this.kafka = new Kafka({
      clientId: `his-adapter-${options.keys.code}`,
      brokers: options.brokers,
      sasl: options.sasl,
      ssl: options.ssl,
      logLevel: options.logLevel ?? logLevel.WARN,
      logCreator: stderrLogger,
      retry: { retries: 5 },
    });
    this.producer = this.kafka.producer({
      idempotent: false, maxInFlightRequests: 1, allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    // the platform's services use the same session settings: the embedded broker holds a JoinGroup for half the
    // session timeout while it waits for other members, so a short one keeps the start quick
    this.consumer = this.kafka.consumer({
      groupId: options.group, sessionTimeout: 10_000, heartbeatInterval: 1_000, rebalanceTimeout: 10_000,
      allowAutoTopicCreation: false,
    });
  }

  /** Connects both ends and waits until the consumer holds its partitions (or `timeoutMs` passes). */
  async start(timeoutMs: number): Promise<void> {
    const joined = new Promise<void>((resolve) => this.consumer.on(this.consumer.events.GROUP_JOIN, () => resolve()));
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) return;
      this.crashed = new AdapterError("broker", `the answer consumer stopped: ${payload.error.message}`);
      for (const waiter of this.waiters.values()) waiter.reject(this.crashed);
      this.waiters.clear();
    });
    try {
      await this.producer.connect();
      await this.consumer.connect();
      await this.consumer.subscribe({ topics: ANSWER_TOPICS.map((t) => this.options.prefix + t), fromBeginning: true });
      await this.consumer.run({
        eachMessage: async ({ topic, message }) => {
          await this.dispatch(topic.slice(this.options.prefix.length) as AnswerTopic, message.value,
            message.headers?.[SIGNATURE_HEADER]);
        },
      });
    } catch (error) {
      throw new AdapterError("broker", `Kafka at ${this.options.brokers.join(",")}: ${(error as Error).message}`);
    }
    await within(joined, timeoutMs, () => new AdapterError("timeout",
      `the consumer group ${this.options.group} was not joined within ${timeoutMs / 1000} s`));
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.consumer.disconnect(), this.producer.disconnect()]);
  }

  /** Sends one command and waits for its answer; a refusal on party.refused.v1 is an AdapterError `refused`. */
  async ask(topic: string, payload: Record<string, unknown>, producer: string, timeoutMs: number): Promise<Heard> {
    if (this.crashed) throw this.crashed;
    const record = await commandRecord(topic, payload, {
      keys: this.options.keys, publicKeys: this.options.publicKeys, now: this.options.now(), producer,
    });
    const requestId = String(payload.request_id);
    let waiter!: Waiter;
    const answered = new Promise<Heard>((resolve, reject) => {
      waiter = { topic: command(topic).answeredOn, requestId, resolve, reject, discarded: [] };
    });
    this.waiters.set(record.envelope.event_id, waiter);
    try {
      await this.send(record.topic, record.key, record.value, record.headers);
      return await within(answered, timeoutMs, () => new AdapterError("timeout",
        `no answer to ${topic} request ${requestId} on ${waiter.topic} within ${timeoutMs / 1000} s`
        + (waiter.discarded.length ? `; records not believed: ${waiter.discarded.join("; ")}` : "")));
    } finally {
      this.waiters.delete(record.envelope.event_id);
    }
  }

  private async send(topic: string, key: string, value: Buffer, headers: Record<string, string>): Promise<void> {
    try {
      await this.producer.send({ topic: this.options.prefix + topic, acks: -1, messages: [{ key, value, headers }] });
    } catch (error) {
      throw new AdapterError("broker", `${this.options.prefix}${topic}: the broker did not take the record: `
        + `${(error as Error).message}`);
    }
  }

  /** One record of an answer topic: believed and handed to its waiter, or set aside with the reason. */
  private async dispatch(topic: AnswerTopic, value: Buffer | null, signature: Buffer | string | (Buffer | string)[] | undefined) {
    const token = Array.isArray(signature) ? signature[0] : signature;
    const flow = correlationOf(value);
    const waiter = flow ? this.waiters.get(flow) : undefined;
    let heard: Heard | null;
    try {
      heard = await hear(topic, value, token?.toString(), this.options.keys, this.options.publicKeys, this.options.now());
    } catch (error) {
      const reason = error instanceof AdapterError ? error.message : String(error);
      if (waiter) waiter.discarded.push(reason);
      this.options.warn?.(`${topic}: a record addressed to ${this.options.keys.code} was not believed: ${reason}`);
      return;
    }
    if (!heard) return;   // another party's
    // a refusal names the refused command's event id; an answer carries the flow's correlation id (= that event id)
    const mine = topic === REFUSED ? this.waiters.get(String(heard.content.refused_event_id)) : waiter;
    if (!mine) {
      this.options.warn?.(`${topic}: an answer to request ${String(heard.payload.request_id ?? heard.payload.refused_event_id)}`
        + " that nothing here waits for (an earlier run's?)");
      return;
    }
    if (topic === REFUSED) {
      const c = heard.content;
      mine.reject(new AdapterError("refused", `${String(c.topic)} refused by ${String(c.service)}: ${String(c.reason)}`
        + `${c.rule ? ` (${String(c.rule)})` : ""}: ${String(c.message)}`));
    } else if (topic === mine.topic
               && (heard.payload.request_id === mine.requestId || heard.payload.reversal_request_id === mine.requestId)) {
      mine.resolve(heard);
    } else {
      mine.discarded.push(`${topic} for request ${String(heard.payload.request_id)} in this flow`);
    }
  }
}

/** The flow a record belongs to: its envelope's correlation_id (read before anything is believed). */
function correlationOf(value: Buffer | null): string | undefined {
  try {
    const envelope = JSON.parse(value?.toString("utf8") ?? "") as Envelope;
    return typeof envelope?.correlation_id === "string" ? envelope.correlation_id : undefined;
  } catch {
    return undefined;
  }
}

async function within<T>(promise: Promise<T>, ms: number, onTimeout: () => AdapterError): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(onTimeout()), ms); });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
