import sparkplug from 'sparkplug-payload';
import type { Quality } from '../../../shared/sample.js';
import { coerceNumber } from './payload-number.js';

/**
 * Sparkplug B state of the edge nodes this agent listens to: alias tables from
 * NBIRTH/DBIRTH, the 0–255 sequence number per edge node (a jump is a gap), the
 * bdSeq that ties an NDEATH to its NBIRTH, and the tags each node and device
 * produced so that a death certificate can mark exactly those tags bad.
 */

const codec = sparkplug.get('spBv1.0')!;

export const SPARKPLUG_NAMESPACE = 'spBv1.0';
export const NODE_MESSAGE_TYPES = ['NBIRTH', 'NDATA', 'NDEATH'] as const;
export const DEVICE_MESSAGE_TYPES = ['DBIRTH', 'DDATA', 'DDEATH'] as const;
type MessageType = (typeof NODE_MESSAGE_TYPES)[number] | (typeof DEVICE_MESSAGE_TYPES)[number];

export interface SparkplugTopic {
  group: string;
  type: MessageType;
  node: string;
  device: string | undefined;
}

/** The parts of a Sparkplug B topic, or undefined for commands, STATE and non-Sparkplug topics. */
export function parseSparkplugTopic(levels: readonly string[]): SparkplugTopic | undefined {
  if (levels[0] !== SPARKPLUG_NAMESPACE) return undefined;
  const type = levels[2];
  if (levels.length === 4 && (type === 'NBIRTH' || type === 'NDATA' || type === 'NDEATH')) {
    return { group: levels[1]!, type, node: levels[3]!, device: undefined };
  }
  if (levels.length === 5 && (type === 'DBIRTH' || type === 'DDATA' || type === 'DDEATH')) {
    return { group: levels[1]!, type, node: levels[3]!, device: levels[4]! };
  }
  return undefined;
}

/** Metrics that run the protocol rather than describe the process; `metric: '*'` skips them. */
export function isProtocolMetric(name: string): boolean {
  return name === 'bdSeq' || name.startsWith('Node Control/') || name.startsWith('Device Control/');
}

export interface SparkplugMetric {
  name: string;
  value: number;
  ts: number;
  quality: Quality;
}

export interface SparkplugResult {
  /** Set when the payload could not be decoded at all. */
  malformed?: 'invalid_sparkplug';
  metrics: SparkplugMetric[];
  /** Per-metric drops, by reason (`unknown_alias`, `not_a_number`). */
  dropped: Record<string, number>;
  /** The sequence number jumped: messages from this edge node were lost. */
  gap: boolean;
  /** Tags to mark bad (NDEATH/DDEATH); empty otherwise. */
  deadTags: string[];
  /** An NDEATH from an older session (its bdSeq is not the current birth's), ignored. */
  staleDeath: boolean;
  /** Data came from a node whose birth this agent has not seen: ask it to rebirth (NCMD Node Control/Rebirth). */
  needsRebirth: boolean;
}

interface DeviceState {
  aliases: Map<number, string>;
  tags: Set<string>;
}

interface NodeState {
  born: boolean;
  seq: number | undefined;
  bdSeq: number | undefined;
  aliases: Map<number, string>;
  tags: Set<string>;
  devices: Map<string, DeviceState>;
}

interface DecodedMetric {
  name?: string | null;
  alias?: unknown;
  value?: unknown;
  timestamp?: unknown;
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (v !== null && typeof v === 'object' && typeof (v as { toNumber?: unknown }).toNumber === 'function') {
    return (v as { toNumber(): number }).toNumber();
  }
  return undefined;
}

function metricValue(v: unknown): number | undefined {
  const n = toNumber(v);
  return n !== undefined ? (Number.isFinite(n) ? n : undefined) : coerceNumber(v);
}

export class SparkplugTracker {
  private readonly nodes = new Map<string, NodeState>();

  /** @param maxNodes edge nodes remembered; a flood of fake node ids cannot grow memory past it. */
  constructor(private readonly maxNodes = 10_000) {}

  handle(topic: SparkplugTopic, payload: Buffer, receivedAt: number): SparkplugResult {
    const result: SparkplugResult = { metrics: [], dropped: {}, gap: false, deadTags: [], staleDeath: false, needsRebirth: false };
    let decoded: { timestamp?: unknown; seq?: unknown; metrics?: DecodedMetric[] | null };
    try {
      decoded = codec.decodePayload(payload) as typeof decoded;
    } catch {
      result.malformed = 'invalid_sparkplug';
      return result;
    }
    const node = this.nodeState(topic);
    if (!node) {
      result.dropped.too_many_nodes = 1;
      return result;
    }
    const metrics = decoded.metrics ?? [];

    if (topic.type === 'NDEATH') {
      const bdSeq = metricValue(metrics.find((m) => m.name === 'bdSeq')?.value);
      if (bdSeq !== undefined && node.bdSeq !== undefined && bdSeq !== node.bdSeq) {
        result.staleDeath = true;
        return result;
      }
      node.seq = undefined;
      node.born = false;
      result.deadTags = [...node.tags];
      for (const d of node.devices.values()) result.deadTags.push(...d.tags);
      return result;
    }

    this.trackSeq(topic.type, node, toNumber(decoded.seq), result);
    const device = topic.device === undefined ? undefined : this.deviceState(node, topic.device);
    if (topic.type === 'DDEATH') {
      result.deadTags = device ? [...device.tags] : [];
      return result;
    }

    const birth = topic.type === 'NBIRTH' || topic.type === 'DBIRTH';
    if (topic.type === 'NBIRTH') node.born = true;
    else if (!node.born) result.needsRebirth = true;
    const aliases = device ? device.aliases : node.aliases;
    if (birth) aliases.clear();
    const payloadTs = toNumber(decoded.timestamp) ?? receivedAt;
    for (const m of metrics) {
      const alias = toNumber(m.alias);
      let name = m.name ?? undefined;
      if (birth && name && alias !== undefined) aliases.set(alias, name);
      if (topic.type === 'NBIRTH' && name === 'bdSeq') node.bdSeq = metricValue(m.value);
      if (!name && alias !== undefined) name = aliases.get(alias) ?? (device ? node.aliases.get(alias) : undefined);
      if (!name) {
        result.dropped.unknown_alias = (result.dropped.unknown_alias ?? 0) + 1;
        result.needsRebirth = true;
        continue;
      }
      const ts = toNumber(m.timestamp) ?? payloadTs;
      if (m.value === null || m.value === undefined) {
        // isNull: the edge node says it has no value, which is a bad-quality sample, not a drop.
        result.metrics.push({ name, value: Number.NaN, ts, quality: 'bad' });
        continue;
      }
      const value = metricValue(m.value);
      if (value === undefined) {
        result.dropped.not_a_number = (result.dropped.not_a_number ?? 0) + 1;
        continue;
      }
      result.metrics.push({ name, value, ts, quality: 'good' });
    }
    return result;
  }

  /** Records that a tag came from this node (and device), so a death can mark it bad. */
  remember(topic: SparkplugTopic, tag: string): void {
    const node = this.nodes.get(`${topic.group}/${topic.node}`);
    if (!node) return;
    const owner = topic.device === undefined ? node : this.deviceState(node, topic.device);
    owner.tags.add(tag);
  }

  private trackSeq(type: MessageType, node: NodeState, seq: number | undefined, result: SparkplugResult): void {
    if (seq === undefined) return;
    if (type !== 'NBIRTH' && node.seq !== undefined && seq !== ((node.seq + 1) & 0xff)) result.gap = true;
    node.seq = seq & 0xff;
  }

  private nodeState(topic: SparkplugTopic): NodeState | undefined {
    const key = `${topic.group}/${topic.node}`;
    let node = this.nodes.get(key);
    if (!node) {
      if (this.nodes.size >= this.maxNodes) return undefined;
      node = { born: false, seq: undefined, bdSeq: undefined, aliases: new Map(), tags: new Set(), devices: new Map() };
      this.nodes.set(key, node);
    }
    return node;
  }

  private deviceState(node: NodeState, device: string): DeviceState {
    let d = node.devices.get(device);
    if (!d) {
      d = { aliases: new Map(), tags: new Set() };
      node.devices.set(device, d);
    }
    return d;
  }
}

/**
 * The subscriptions a Sparkplug tag filter needs. The message-type level is
 * always a wildcard in the tag's filter; here it becomes the concrete types, so
 * the agent never receives commands (NCMD/DCMD) it would only have to ignore.
 */
export function sparkplugSubscriptions(filter: string): string[] {
  const levels = filter.split('/');
  if (levels[0] !== SPARKPLUG_NAMESPACE) throw new Error(`Sparkplug topic ${filter} must start with ${SPARKPLUG_NAMESPACE}/, e.g. spBv1.0/plant1/+/edge1/pump1`);
  const hashAt = levels.indexOf('#');
  const at = (i: number) => (hashAt >= 0 && i >= hashAt ? '+' : (levels[i] ?? '+'));
  const group = at(1);
  const node = at(3);
  const out: string[] = [];
  const wantsNode = hashAt >= 0 ? hashAt <= 4 : levels.length === 4;
  const wantsDevice = hashAt >= 0 ? true : levels.length === 5;
  if (!wantsNode && !wantsDevice) throw new Error(`Sparkplug topic ${filter} needs 4 levels (node: spBv1.0/<group>/+/<node>) or 5 (device: spBv1.0/<group>/+/<node>/<device>)`);
  // Node birth and death are needed for devices too: they reset the sequence and an NDEATH kills every device.
  for (const t of NODE_MESSAGE_TYPES) if (wantsNode || t !== 'NDATA') out.push(`${SPARKPLUG_NAMESPACE}/${group}/${t}/${node}`);
  if (wantsDevice) for (const t of DEVICE_MESSAGE_TYPES) out.push(`${SPARKPLUG_NAMESPACE}/${group}/${t}/${node}/${at(4)}`);
  return out;
}

/** The tag's filter with the message-type level wildcarded, for matching incoming topics. */
export function sparkplugMatchFilter(filter: string): string {
  const levels = filter.split('/');
  if (levels.length > 2 && levels[2] !== '#') levels[2] = '+';
  return levels.join('/');
}

/** The NCMD that asks an edge node to publish its births again (Sparkplug B 'Node Control/Rebirth'). */
export function rebirthRequest(group: string, node: string): { topic: string; payload: Buffer } {
  return {
    topic: `${SPARKPLUG_NAMESPACE}/${group}/NCMD/${node}`,
    payload: encodeSparkplug({ timestamp: Date.now(), metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }] }),
  };
}

export function encodeSparkplug(payload: Parameters<typeof codec.encodePayload>[0]): Buffer {
  return Buffer.from(codec.encodePayload(payload));
}
