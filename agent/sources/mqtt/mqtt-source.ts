import mqtt, { type IConnackPacket, type MqttClient } from 'mqtt';
import { VigilError, describeError } from '../../../shared/errors.js';
import type { Quality } from '../../../shared/sample.js';
import type { MqttSourceConfig, MqttTagConfig } from '../../config/schema.js';
import { backoffDelay } from '../backoff.js';
import { emptyCounters, countInto, type Source, type SourceContext, type SourceCounters, type SourceHealth } from '../source.js';
import { explainConnectError, isProtocolVersionRejected, mqttClientOptions } from './connect-options.js';
import { DropCounter } from './drop-counter.js';
import { MalformedLog } from './malformed-log.js';
import { MessageHandler, type MessageHandlerOptions } from './message-handler.js';
import { rebirthRequest } from './sparkplug.js';
import { compileTagRules, subscriptionMap, type TagRule } from './tag-rules.js';

export interface MqttSourceOptions extends MessageHandlerOptions {
  /** Minimum time between two log lines for the same topic and drop reason, in ms. Default 60000. */
  malformedLogIntervalMs?: number;
  /** Distinct topics tracked in droppedByTopic(); more are counted under `_other`. Default 1000. */
  maxDropTopics?: number;
  /** Minimum time between two Sparkplug rebirth requests to the same edge node, in ms. Default 30000. */
  rebirthIntervalMs?: number;
}

/**
 * One MQTT broker: one mqtt.js client with a persistent session (fixed client
 * id, clean start off, session expiry), QoS 1 subscriptions for every tag, and
 * jittered exponential reconnection. Messages are decoded synchronously in the
 * message handler, so mqtt.js acknowledges a QoS 1 message only after its
 * samples are in the pipeline.
 */
export class MqttSource implements Source {
  readonly name: string;
  readonly type = 'mqtt' as const;
  private readonly stats: SourceCounters = emptyCounters();
  private readonly drops: DropCounter;
  private readonly malformed: MalformedLog;
  private readonly rules: TagRule[];
  private readonly handler: MessageHandler;
  private readonly subscriptions: ReturnType<typeof subscriptionMap>;
  private readonly clientId: string;
  private readonly erroredRules = new Set<TagRule>();
  /** Last rebirth request per edge node, so a node without birth is asked at most once per interval. */
  private readonly rebirthAsked = new Map<string, number>();
  private readonly rebirthIntervalMs: number;
  private client: MqttClient | undefined;
  private readonly detachers = new WeakMap<MqttClient, () => void>();
  private protocolVersion: 4 | 5 = 5;
  private connected = false;
  private everConnected = false;
  private stopping = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private state = 'not started';
  private lastError: string | undefined;
  private since = Date.now();
  private subscribedOnce!: () => void;
  /** Resolves after the first SUBACK: from then on, messages for every tag reach the source. */
  readonly subscribed: Promise<void> = new Promise((resolve) => (this.subscribedOnce = resolve));

  constructor(
    private readonly config: MqttSourceConfig,
    private readonly tags: MqttTagConfig[],
    private readonly ctx: SourceContext,
    options: MqttSourceOptions = {},
  ) {
    this.name = config.name;
    this.rebirthIntervalMs = options.rebirthIntervalMs ?? 30_000;
    this.clientId = config.clientId ?? `vigil-${ctx.agentId}-${config.name}`;
    this.drops = new DropCounter(this.stats.dropped, options.maxDropTopics);
    this.malformed = new MalformedLog(ctx.log, options.malformedLogIntervalMs);
    const { rules, problems } = compileTagRules(tags);
    for (const p of problems) {
      ctx.status.tagError(p.tag, p.message);
      ctx.log.error({ tag: p.tag, code: 'VIGIL_CONFIG_INVALID' }, `MQTT tag ${p.tag} is left out: ${p.message}`);
    }
    this.rules = rules;
    this.subscriptions = subscriptionMap(rules);
    this.handler = new MessageHandler(
      rules,
      {
        sample: (tag, value, ts, quality, _topic, rule) => this.emit(tag, value, ts, quality, rule),
        drop: (topic, reason, rule, n) => this.drop(topic, reason, rule, n),
        gap: (topic) => {
          this.stats.gaps++;
          this.malformed.report(topic, 'sequence_gap');
        },
        rebirth: (group, node) => this.requestRebirth(group, node),
      },
      options,
    );
  }

  async start(signal?: AbortSignal): Promise<void> {
    if (this.client || this.stopping) return;
    // Secrets and TLS files are read now: a missing file is a typed startup error, not a retry loop.
    mqttClientOptions(this.config, this.clientId, 5, false);
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    if (!client) return;
    // A clean DISCONNECT keeps the session (expiry was set at CONNECT) and lets pending PUBACKs go out.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        client.end(true);
        resolve();
      }, 2000);
      client.end(!client.connected, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.detach(client);
    this.setConnected(false, 'stopped');
  }

  health(): SourceHealth {
    const h: SourceHealth = { name: this.name, type: 'mqtt', connected: this.connected, state: this.state, since: this.since, tagsConfigured: this.tags.length };
    if (this.lastError) h.lastError = this.lastError;
    return h;
  }

  counters(): SourceCounters {
    return this.stats;
  }

  /** Drops by topic and reason, for /metrics; at most `maxDropTopics` topics plus `_other`. */
  droppedByTopic(): Map<string, Record<string, number>> {
    return this.drops.byTopic();
  }

  private connect(): void {
    const options = mqttClientOptions(this.config, this.clientId, this.protocolVersion, false);
    this.state = this.attempt === 0 ? 'connecting' : this.state;
    const client = mqtt.connect(this.config.url, options);
    this.client = client;
    const onConnect = (connack: IConnackPacket) => this.onConnect(client, connack);
    const onMessage = (topic: string, payload: Buffer) => this.onMessage(topic, payload);
    const onError = (err: Error & { code?: unknown }) => this.onError(client, err);
    const onClose = () => this.onClose(client);
    client.on('connect', onConnect).on('message', onMessage).on('error', onError).on('close', onClose);
    this.detachers.set(client, () => {
      client.off('connect', onConnect).off('message', onMessage).off('error', onError).off('close', onClose);
      client.on('error', () => {});
    });
  }

  /**
   * Removes the source's own listeners from a client it is done with, and
   * only those: mqtt.js clears its CONNACK timer in its own 'close' listener,
   * which a client ended while still connecting emits only after end()
   * returned. Without it the timer kept a stopped agent's process alive for
   * connectTimeout (15 s).
   */
  private detach(client: MqttClient): void {
    this.detachers.get(client)?.();
    this.detachers.delete(client);
  }

  private onMessage(topic: string, payload: Buffer): void {
    this.stats.messages++;
    try {
      this.handler.handle(topic, payload);
    } catch (err) {
      // A decoder bug must not take the broker connection (or the agent) down with it.
      countInto(this.stats.errors, 'handler');
      this.drop(topic, 'handler_error', undefined, 1);
      this.ctx.log.error({ err, topic }, 'MQTT message handler failed; the message is dropped');
    }
  }

  private onConnect(client: MqttClient, connack: IConnackPacket): void {
    if (client !== this.client) return;
    if (this.everConnected) this.stats.reconnects++;
    if (this.everConnected && !connack.sessionPresent) {
      // The broker lost our session (restart without persistence, or expiry): QoS 1 messages from the outage are gone.
      this.stats.gaps++;
      this.ctx.log.warn({ clientId: this.clientId }, `MQTT broker ${this.config.url} had no session for ${this.clientId}; messages published while disconnected were lost. Enable broker persistence or raise sessionExpirySeconds.`);
    }
    this.everConnected = true;
    this.attempt = 0;
    this.lastError = undefined;
    this.setConnected(true, `connected (MQTT ${this.protocolVersion === 5 ? '5' : '3.1.1'}, session ${connack.sessionPresent ? 'resumed' : 'new'})`);
    this.ctx.log.info({ url: this.config.url, clientId: this.clientId, sessionPresent: connack.sessionPresent }, 'MQTT connected');
    this.subscribe(client);
  }

  private subscribe(client: MqttClient): void {
    const topics = Object.keys(this.subscriptions);
    if (topics.length === 0) {
      this.subscribedOnce();
      return;
    }
    // Subscribing on every connect is idempotent and picks up tags added since the session was created;
    // rh 1 (MQTT 5) sends retained messages only for subscriptions that are new.
    const map: Record<string, { qos: 0 | 1 | 2; rh?: number }> = {};
    for (const t of topics) map[t] = this.protocolVersion === 5 ? { qos: this.subscriptions[t]!.qos, rh: 1 } : { qos: this.subscriptions[t]!.qos };
    client.subscribe(map, (err, granted) => {
      if (err) {
        countInto(this.stats.errors, 'subscribe');
        this.lastError = `subscribe failed: ${err.message}`;
        return;
      }
      for (const g of granted ?? []) {
        if (g.qos < 128) continue;
        countInto(this.stats.errors, 'subscribe');
        const message = `the broker refused the subscription to ${g.topic} (reason ${g.qos}); check the broker ACL for this user`;
        this.lastError = message;
        for (const r of this.rules) if (r.subscriptions.includes(g.topic)) this.ctx.status.tagError(r.config.name, message);
        this.ctx.log.error({ topic: g.topic, reason: g.qos }, message);
      }
      this.subscribedOnce();
    });
  }

  private onError(client: MqttClient, err: Error & { code?: unknown }): void {
    if (client !== this.client) return;
    if (this.protocolVersion === 5 && isProtocolVersionRejected(err)) {
      // Brokers without MQTT 5 (aedes, old Mosquitto) still keep 3.1.1 persistent sessions with clean=false.
      this.protocolVersion = 4;
      this.ctx.log.info({ url: this.config.url }, 'MQTT broker does not speak MQTT 5; using MQTT 3.1.1 with a persistent session');
      return;
    }
    countInto(this.stats.errors, 'connect');
    const message = explainConnectError(err, this.config.url);
    this.lastError = describeError(new VigilError('VIGIL_MQTT_CONNECT_FAILED', message, { cause: err, retryable: true }));
    this.ctx.log.warn({ code: 'VIGIL_MQTT_CONNECT_FAILED', reasonCode: err.code, attempt: this.attempt }, message);
  }

  private onClose(client: MqttClient): void {
    if (client !== this.client || this.stopping) return;
    if (this.connected) {
      this.stats.gaps++;
      this.ctx.log.warn({ url: this.config.url }, 'MQTT connection lost; reconnecting');
    }
    const fallback = client.options.protocolVersion !== this.protocolVersion;
    const delay = fallback ? 0 : backoffDelay(this.attempt, this.config.reconnect.initialDelayMs, this.config.reconnect.maxDelayMs);
    if (!fallback) this.attempt++;
    this.setConnected(false, `connecting (attempt ${this.attempt}, next in ${Math.ceil(delay / 1000)} s)`);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.reconnect(client), delay);
    this.reconnectTimer.unref?.();
  }

  private reconnect(client: MqttClient): void {
    if (this.stopping || client !== this.client) return;
    if (client.options.protocolVersion !== this.protocolVersion) {
      // The protocol version is fixed per client: build a new one after a fallback.
      this.detach(client);
      client.end(true);
      this.connect();
      return;
    }
    client.reconnect();
  }

  private requestRebirth(group: string, node: string): void {
    const key = `${group}/${node}`;
    const now = Date.now();
    if (now - (this.rebirthAsked.get(key) ?? -Infinity) < this.rebirthIntervalMs) return;
    if (this.rebirthAsked.size >= 10_000) this.rebirthAsked.clear();
    this.rebirthAsked.set(key, now);
    const { topic, payload } = rebirthRequest(group, node);
    // QoS 0: a stale request is worse than none, and a broker ACL that forbids it must not break anything.
    this.client?.publish(topic, payload, { qos: 0 });
    this.ctx.log.info({ group, node }, `Sparkplug edge node ${key} sent data before a birth this agent saw; asked it to rebirth`);
  }

  private emit(tag: string, value: number, ts: number, quality: Quality, rule: TagRule | undefined): void {
    // A refused sample is counted by the pipeline (overflow), not here.
    if (this.ctx.sink.push({ tag, ts, value, quality })) this.stats.samples++;
    if (rule && this.erroredRules.size > 0 && this.erroredRules.delete(rule)) this.ctx.status.tagError(rule.config.name, undefined);
  }

  private drop(topic: string, reason: string, rule: TagRule | undefined, n: number): void {
    this.drops.count(topic, reason, n);
    this.malformed.report(topic, reason);
    if (rule) {
      this.erroredRules.add(rule);
      this.ctx.status.tagError(rule.config.name, `${reason.replace(/_/g, ' ')} on ${topic}`);
    }
  }

  private setConnected(connected: boolean, state: string): void {
    if (connected !== this.connected) this.since = Date.now();
    this.connected = connected;
    this.state = state;
  }
}
