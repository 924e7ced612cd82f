import { performance } from 'node:perf_hooks';
import type { WindowReport } from './child-meter.js';
import { sleep } from './child-meter.js';
import { processCpuSeconds } from './process-cpu.js';
import { RoleProcess, type RoleOptions } from './role-process.js';
import type { MqttProfile } from './mqtt-traffic.js';

/** One measured MQTT run: a subscriber (bare or agent) under the publisher's flood. */

export type Subject = 'bare' | 'agent';

export interface MqttRun {
  profile: MqttProfile;
  subject: Subject;
  sub: WindowReport;
  pub: WindowReport;
  /** Broker CPU share of one core during the window, when /proc lets us read it. */
  brokerCpu: number | undefined;
  /** What the agent subscriber found when it checked its own output (agent runs only). */
  check: AgentMqttCheck | undefined;
}

export interface AgentMqttCheck {
  messages: number;
  sourceSamples: number;
  pipelineReceived: number;
  pipelineEmitted: number;
  pipelineDropped: number;
  tagTableSamples: number;
  tagTableOverflowed: number;
  sourceDropped: Record<string, number>;
  sourceErrors: Record<string, number>;
  tagsExpected: number;
  tagsSeen: number;
  tagsUnexpected: number;
  valueMismatches: number;
  problems: string[];
}

export interface MqttTiming {
  warmupMs: number;
  windowMs: number;
}

export async function runMqtt(
  profile: MqttProfile,
  subject: Subject,
  run: string,
  timing: MqttTiming,
  brokerPid: number | undefined,
  roleOptions: RoleOptions = {},
): Promise<MqttRun> {
  const sub = new RoleProcess(subject === 'bare' ? 'mqtt-bare-subscriber' : 'mqtt-agent-subscriber', [profile, run], roleOptions);
  let pub: RoleProcess | undefined;
  try {
    await sub.waitFor('ready', 30_000);
    pub = new RoleProcess('mqtt-publisher', [profile, run]);
    await pub.waitFor('ready', 30_000);
    await sleep(timing.warmupMs);
    const brokerStart = brokerPid === undefined ? undefined : processCpuSeconds(brokerPid);
    const t0 = performance.now();
    await Promise.all([sub.request('begin'), pub.request('begin')]);
    await sleep(timing.windowMs);
    const [subReport, pubReport] = await Promise.all([sub.request<WindowReport>('end'), pub.request<WindowReport>('end')]);
    const brokerEnd = brokerPid === undefined ? undefined : processCpuSeconds(brokerPid);
    const wall = (performance.now() - t0) / 1000;
    await pub.stop();
    // Let the subscriber take what the broker still holds before it checks its output.
    await sleep(300);
    const check = await sub.stop<AgentMqttCheck | { messages: number }>(60_000);
    return {
      profile,
      subject,
      sub: subReport,
      pub: pubReport,
      brokerCpu: brokerStart !== undefined && brokerEnd !== undefined ? (brokerEnd - brokerStart) / wall : undefined,
      check: subject === 'agent' ? (check as AgentMqttCheck) : undefined,
    };
  } finally {
    sub.kill();
    pub?.kill();
  }
}
