import type { WindowReport } from './child-meter.js';
import type { MqttRun } from './mqtt-phase.js';
import type { OpcuaPhase } from './opcua-phase.js';
import type { MqttProfile } from './mqtt-traffic.js';

/** Turns the measured runs into the readable table, the target verdicts and the RESULT object. */

export const TARGETS = {
  mqttRatio: 0.8,
  mqttBatchedSamplesPerS: 100_000,
  /**
   * "Delivered in full": every tag delivers, nothing is lost inside the agent
   * (exact, by counters), and the agent misses at most this many more value
   * changes (share, counted per item from source timestamps) than the bare
   * client — a server sampling at the same 1 s period as the values change
   * skips the odd change for any client. items/s is shown but not judged: a
   * 30 s window cuts 1 s publishes at its edges (±1 publish per subscription).
   */
  opcuaExtraMissedShare: 0.005,
  opcuaCpuRatio: 2,
  opcuaRssRatio: 1.3,
};

export const perS = (r: WindowReport) => r.samples / r.seconds;
const msgPerS = (r: WindowReport) => r.messages / r.seconds;
const cpuShare = (r: WindowReport) => r.cpuSeconds / r.seconds;

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (n: number) => `${(n * 100).toFixed(1)} %`;
const mb = (n: number) => n.toFixed(0);
const ratio = (n: number) => n.toFixed(2);

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The run with the highest samples/s of one profile and subject: the least disturbed by the shared machine. */
export function bestMqtt(runs: MqttRun[], profile: MqttProfile, subject: 'bare' | 'agent'): MqttRun {
  const candidates = runs.filter((r) => r.profile === profile && r.subject === subject);
  if (candidates.length === 0) throw new Error(`no ${subject} run of profile ${profile}`);
  return candidates.reduce((a, b) => (perS(b.sub) > perS(a.sub) ? b : a));
}

export function mqttTable(runs: MqttRun[]): string {
  const best = new Set((['single', 'batched'] as const).flatMap((p) => (['bare', 'agent'] as const).map((s) => bestMqtt(runs, p, s))));
  const rows = runs.map((r) => [
    `${r.profile}${best.has(r) ? ' *' : ''}`,
    r.subject,
    int(msgPerS(r.sub)),
    int(perS(r.sub)),
    pct(cpuShare(r.sub)),
    r.sub.samples > 0 ? ((r.sub.cpuSeconds * 1e6) / r.sub.samples).toFixed(1) : '-',
    `${mb(r.sub.rssMeanMb)} / ${mb(r.sub.rssPeakMb)}`,
    r.brokerCpu === undefined ? '-' : pct(r.brokerCpu),
    int(msgPerS(r.pub)),
    pct(r.sub.messages / Math.max(1, r.pub.messages)),
    r.check ? (r.check.problems.length === 0 ? 'ok' : 'PROBLEM') : '',
  ]);
  return table(['profile', 'subject', 'msg/s', 'samples/s', 'CPU', 'CPU ms/1k smp', 'RSS MB mean/peak', 'broker CPU', 'published msg/s', 'received', 'check'], rows);
}

export function opcuaTable(phase: OpcuaPhase): string {
  const rows = phase.runs.map((r) => [
    r.subject,
    String(r.subscriptions),
    r.setupSeconds.toFixed(1),
    int(perS(r.client)),
    pct(cpuShare(r.client)),
    mb(r.client.rssMeanMb),
    mb(r.client.rssPeakMb),
    pct(cpuShare(r.server)),
    `${int(r.missed.missed)} / ${int(r.missed.received + r.missed.missed)} (${pct(r.missed.missedShare)})`,
    r.check ? (r.check.problems.length === 0 ? 'ok' : 'PROBLEM') : '',
  ]);
  return table(['subject', 'subscriptions', 'setup s', 'items/s', 'CPU', 'RSS MB steady', 'RSS MB peak', 'server CPU', 'missed changes (after window)', 'check'], rows);
}

export interface Verdict {
  ok: boolean;
  text: string;
}

export interface Summary {
  result: Record<string, number | boolean | string[]>;
  verdicts: Verdict[];
  notes: string[];
}

export function summarize(mqttRuns: MqttRun[], opcua: OpcuaPhase | undefined): Summary {
  const verdicts: Verdict[] = [];
  const notes: string[] = [];
  const result: Summary['result'] = {};

  if (mqttRuns.length > 0) {
    const sb = bestMqtt(mqttRuns, 'single', 'bare');
    const sa = bestMqtt(mqttRuns, 'single', 'agent');
    const bb = bestMqtt(mqttRuns, 'batched', 'bare');
    const ba = bestMqtt(mqttRuns, 'batched', 'agent');
    const ratioSingle = perS(sa.sub) / perS(sb.sub);
    const ratioBatched = perS(ba.sub) / perS(bb.sub);
    const agentRuns = mqttRuns.filter((r) => r.check);
    const dropped = agentRuns.reduce((n, r) => n + (r.check?.pipelineDropped ?? 0), 0);
    Object.assign(result, {
      mqtt_samples_per_s: Math.round(perS(ba.sub)),
      mqtt_batched_samples_per_s: Math.round(perS(ba.sub)),
      mqtt_single_samples_per_s: Math.round(perS(sa.sub)),
      mqtt_bare_single_samples_per_s: Math.round(perS(sb.sub)),
      mqtt_bare_batched_samples_per_s: Math.round(perS(bb.sub)),
      ratio_mqtt: round(ratioSingle, 3),
      ratio_mqtt_batched: round(ratioBatched, 3),
      mqtt_agent_cpu_ms_per_1k_batched: round(cpuPerSample(ba.sub), 3),
      mqtt_agent_rss_mb: round(Math.max(sa.sub.rssMeanMb, ba.sub.rssMeanMb), 1),
      mqtt_pipeline_dropped: dropped,
      ratio_mqtt_cpu_per_sample: round(cpuPerSample(sb.sub) / cpuPerSample(sa.sub), 3),
    });
    verdicts.push({
      ok: ratioSingle >= TARGETS.mqttRatio,
      text: `MQTT single-sample messages: agent ${int(perS(sa.sub))} samples/s = ${ratio(ratioSingle)} × the bare client's ${int(perS(sb.sub))} (target ≥ ${TARGETS.mqttRatio})`,
    });
    verdicts.push({
      ok: perS(ba.sub) >= TARGETS.mqttBatchedSamplesPerS,
      text: `MQTT batched payloads: agent ${int(perS(ba.sub))} samples/s (target ≥ ${int(TARGETS.mqttBatchedSamplesPerS)})`,
    });
    verdicts.push({ ok: dropped === 0, text: `MQTT: the agent's pipeline refused ${int(dropped)} samples over all runs (target 0: the agent must not drop)` });
    for (const r of agentRuns) {
      for (const p of r.check!.problems) if (!/pipeline refused/.test(p)) verdicts.push({ ok: false, text: `MQTT ${r.profile} agent output: ${p}` });
    }
    const unsaturated = [sb, sa].filter((r) => cpuShare(r.sub) < 0.9);
    if (unsaturated.length > 0) {
      notes.push(
        `in the single-sample profile ${unsaturated.map((r) => `the ${r.subject} subscriber used ${pct(cpuShare(r.sub))}`).join(' and ')} of a core: the broker or the shared machine, not the subscriber, set that pace, so ratio_mqtt is partly noise; ` +
          `CPU per sample compares the clients' own cost: bare ${cpuPerSample(sb.sub).toFixed(2)} µs, agent ${cpuPerSample(sa.sub).toFixed(2)} µs (ratio_mqtt_cpu_per_sample ${ratio(cpuPerSample(sb.sub) / cpuPerSample(sa.sub))}).`,
      );
    }
    notes.push(
      `ratio_mqtt_batched = ${ratio(ratioBatched)}: the bare client's batched figure is messages × 20 with no JSON parsed at all, so it bounds what the broker and socket can hand over, not what any decoder can reach; it is reported, not held to a target.`,
    );
  }

  if (opcua) {
    const bare = opcua.runs.find((r) => r.subject === 'bare');
    const agent = opcua.runs.find((r) => r.subject === 'agent');
    if (bare && agent) {
      const cpuRatio = cpuShare(agent.client) / cpuShare(bare.client);
      const rssRatio = agent.client.rssMeanMb / bare.client.rssMeanMb;
      const peakRatio = agent.client.rssPeakMb / bare.client.rssPeakMb;
      const expected = opcua.items; // every item changes once per second
      Object.assign(result, {
        opcua_items: opcua.items,
        opcua_items_per_s: Math.round(perS(agent.client)),
        opcua_bare_items_per_s: Math.round(perS(bare.client)),
        opcua_cpu_pct: round(cpuShare(agent.client) * 100, 2),
        opcua_bare_cpu_pct: round(cpuShare(bare.client) * 100, 2),
        opcua_cpu_ratio: round(cpuRatio, 2),
        opcua_rss_mb: round(agent.client.rssMeanMb, 1),
        opcua_bare_rss_mb: round(bare.client.rssMeanMb, 1),
        opcua_rss_ratio: round(rssRatio, 2),
        opcua_rss_peak_ratio: round(peakRatio, 2),
        opcua_missed_pct: round(agent.missed.missedShare * 100, 2),
        opcua_bare_missed_pct: round(bare.missed.missedShare * 100, 2),
        opcua_agent_subscriptions: agent.subscriptions,
      });
      verdicts.push({
        ok:
          agent.missed.missedShare <= bare.missed.missedShare + TARGETS.opcuaExtraMissedShare &&
          (agent.check?.tagsWithData ?? 0) === opcua.items &&
          agent.check?.notifications === agent.check?.pipelineEmitted,
        text:
          `OPC UA: agent ${int(perS(agent.client))} items/s of ${int(expected)} changing per second (bare client ${int(perS(bare.client))}); ` +
          `${int(agent.check?.tagsWithData ?? 0)} of ${int(opcua.items)} tags delivered, ${int(agent.check?.notifications ?? 0)} notifications in, ${int(agent.check?.pipelineEmitted ?? 0)} samples out; ` +
          `missed changes ${pct(agent.missed.missedShare)} vs the bare client's ${pct(bare.missed.missedShare)} ` +
          `(target: all tags, nothing lost inside the agent, at most ${pct(TARGETS.opcuaExtraMissedShare)} more missed changes than the bare client)`,
      });
      verdicts.push({ ok: cpuRatio <= TARGETS.opcuaCpuRatio, text: `OPC UA CPU: agent ${pct(cpuShare(agent.client))} of a core = ${ratio(cpuRatio)} × the bare client's ${pct(cpuShare(bare.client))} (target ≤ ${TARGETS.opcuaCpuRatio})` });
      verdicts.push({ ok: rssRatio <= TARGETS.opcuaRssRatio, text: `OPC UA RSS: agent ${mb(agent.client.rssMeanMb)} MB steady = ${ratio(rssRatio)} × the bare client's ${mb(bare.client.rssMeanMb)} MB (target ≤ ${TARGETS.opcuaRssRatio}; peak ratio ${ratio(peakRatio)})` });
      for (const p of agent.check?.problems ?? []) verdicts.push({ ok: false, text: `OPC UA agent output: ${p}` });
    }
  }
  result.targets_met = verdicts.every((v) => v.ok);
  return { result, verdicts, notes };
}

function cpuPerSample(r: WindowReport): number {
  return (r.cpuSeconds * 1e6) / Math.max(1, r.samples);
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
