import { VigilError } from '../../shared/errors.js';
import type { ScoreLevel } from '../../shared/model-manifest.js';
import type { WindowResult } from '../../shared/window-result.js';
import type { DeploymentRecord, HubStorage } from '../storage/hub-storage.js';

/**
 * A shadow deployment's candidate against the active version on the same
 * windows: on each gateway of the deployment, a window whose end the
 * candidate scored in shadow and another version scored as the active one
 * is compared, and both sides' alarm and warn windows are counted over
 * exactly those windows. The Models page's per-version histogram counts a
 * version's whole life; this answers "would switching raise fewer false
 * alarms?" before the switch.
 *
 * Read through listRecords, newest first, at most `recordCap` score records
 * per gateway; the answer says when that cap cut the reading short (then only
 * the newest windows are compared).
 */

/** Score records read per gateway at most (both versions together). */
export const COMPARISON_RECORD_CAP = 200_000;
/** Records asked of storage at once, so a long shadow never sits in memory whole. */
const PAGE_SIZE = 10_000;
/**
 * Records received shortly before the deployment was made are read too:
 * hub replicas' clocks differ a little, and the deployment's time comes from
 * the replica that made it, each record's from the replica that received it.
 */
const CLOCK_MARGIN_MS = 60_000;
/** Rates are per day of at least this much compared event time, as the score histogram's. */
const MIN_SPAN_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface ComparisonSide {
  /** The version that scored the compared windows (active side: the one that scored most of them); null without any. */
  version: string | null;
  /** Compared windows: the same number on both sides. */
  windows: number;
  alarms: number;
  warns: number;
  /** Alarm windows per day of compared event time; null without compared windows. */
  alarmsPerDay: number | null;
}

export interface GatewayComparison {
  agent: string;
  windows: number;
  candidateAlarms: number;
  activeAlarms: number;
  /** Score records of the model read for this gateway. */
  recordsRead: number;
  /** True when the record cap stopped the reading: older windows were not compared. */
  capped: boolean;
}

export interface ShadowComparison {
  deployment: string;
  model: string;
  candidate: ComparisonSide;
  /** `versions`: every version that scored compared windows as the active one (most windows first). */
  active: ComparisonSide & { versions: string[] };
  windows: number;
  /** Event time of the earliest and latest compared window end, ms; null without compared windows. */
  firstEnd: number | null;
  lastEnd: number | null;
  /** Compared event time, ms: per gateway, its latest minus its earliest compared window end, summed over gateways. */
  eventTimeMs: number;
  gateways: GatewayComparison[];
  recordCap: number;
  /** True when the cap stopped the reading on any gateway. */
  capped: boolean;
}

interface Scored {
  version: string;
  level: ScoreLevel;
}

/**
 * One gateway's scored windows of a model, by window end: the candidate's
 * shadow results and the other versions' active results. Records come newest
 * first; the first result of a side for a window end is kept (a window is
 * scored again only when the agent's store was replaced, and the newest
 * scoring is the one that counts).
 */
export class GatewayWindows {
  readonly candidate = new Map<number, Scored>();
  readonly active = new Map<number, Scored>();
  recordsRead = 0;
  capped = false;

  constructor(
    readonly agent: string,
    private readonly model: string,
    private readonly candidateVersion: string,
  ) {}

  add(body: unknown): void {
    this.recordsRead++;
    const r = body as Partial<WindowResult> | null;
    if (r?.model !== this.model || typeof r.version !== 'string' || r.status !== 'scored') return;
    if (typeof r.end !== 'number' || !Number.isFinite(r.end) || !isLevel(r.level)) return;
    const side = r.shadow === true ? (r.version === this.candidateVersion ? this.candidate : undefined) : r.version !== this.candidateVersion ? this.active : undefined;
    if (side && !side.has(r.end)) side.set(r.end, { version: r.version, level: r.level });
  }
}

function isLevel(level: unknown): level is ScoreLevel {
  return level === 'normal' || level === 'warn' || level === 'alarm';
}

/** The comparison over gateways' windows (pure: the route reads the records, this counts them). */
export function compareWindows(deployment: Pick<DeploymentRecord, 'id' | 'model' | 'version'>, gateways: readonly GatewayWindows[], recordCap: number): ShadowComparison {
  const candidate = { alarms: 0, warns: 0 };
  const active = { alarms: 0, warns: 0 };
  const activeVersions = new Map<string, number>();
  let windows = 0;
  let eventTimeMs = 0;
  let firstEnd: number | null = null;
  let lastEnd: number | null = null;
  const perGateway: GatewayComparison[] = [];
  for (const g of gateways) {
    const row: GatewayComparison = { agent: g.agent, windows: 0, candidateAlarms: 0, activeAlarms: 0, recordsRead: g.recordsRead, capped: g.capped };
    let first = Infinity;
    let last = -Infinity;
    for (const [end, shadow] of g.candidate) {
      const other = g.active.get(end);
      if (!other) continue;
      row.windows++;
      first = Math.min(first, end);
      last = Math.max(last, end);
      activeVersions.set(other.version, (activeVersions.get(other.version) ?? 0) + 1);
      if (shadow.level === 'alarm') row.candidateAlarms++;
      else if (shadow.level === 'warn') candidate.warns++;
      if (other.level === 'alarm') row.activeAlarms++;
      else if (other.level === 'warn') active.warns++;
    }
    if (row.windows > 0) {
      eventTimeMs += last - first;
      firstEnd = firstEnd === null ? first : Math.min(firstEnd, first);
      lastEnd = lastEnd === null ? last : Math.max(lastEnd, last);
    }
    windows += row.windows;
    candidate.alarms += row.candidateAlarms;
    active.alarms += row.activeAlarms;
    perGateway.push(row);
  }
  const perDay = (alarms: number) => (windows === 0 ? null : Number((alarms / (Math.max(MIN_SPAN_MS, eventTimeMs) / DAY_MS)).toFixed(2)));
  const versions = [...activeVersions].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([v]) => v);
  return {
    deployment: deployment.id,
    model: deployment.model,
    candidate: { version: deployment.version, windows, ...candidate, alarmsPerDay: perDay(candidate.alarms) },
    active: { version: versions[0] ?? null, versions, windows, ...active, alarmsPerDay: perDay(active.alarms) },
    windows,
    firstEnd,
    lastEnd,
    eventTimeMs,
    gateways: perGateway,
    recordCap,
    capped: perGateway.some((g) => g.capped),
  };
}

export interface ComparisonOptions {
  recordCap?: number;
  pageSize?: number;
}

/**
 * Reads the score records of a shadow deployment's gateways and compares the
 * candidate with the active version on the windows both scored.
 * VIGIL_API_CONFLICT for a deployment without a shadow period.
 */
export async function compareShadowDeployment(
  storage: Pick<HubStorage, 'listTargets' | 'listRecords'>,
  deployment: DeploymentRecord,
  options: ComparisonOptions = {},
): Promise<ShadowComparison> {
  if (deployment.mode !== 'shadow') {
    throw new VigilError(
      'VIGIL_API_CONFLICT',
      `deployment ${deployment.id} activates ${deployment.model}@${deployment.version} without a shadow period, so nothing scored beside the active version; deploy with a shadow period to compare`,
      { details: { deployment: deployment.id, mode: deployment.mode } },
    );
  }
  const recordCap = options.recordCap ?? COMPARISON_RECORD_CAP;
  const pageSize = options.pageSize ?? PAGE_SIZE;
  const targets = await storage.listTargets(deployment.id);
  const agents = [...new Set(targets.map((t) => t.agent))].sort();
  const gateways: GatewayWindows[] = [];
  // One gateway at a time: only its window levels stay in memory, not its records.
  for (const agent of agents) {
    const windows = new GatewayWindows(agent, deployment.model, deployment.version);
    windows.capped = await readNewestFirst(storage, { agent, model: deployment.model, from: deployment.createdAt - CLOCK_MARGIN_MS }, recordCap, pageSize, (body) => windows.add(body));
    gateways.push(windows);
  }
  return compareWindows(deployment, gateways, recordCap);
}

/**
 * Hands up to `cap` score records to `each`, newest first, a page at a time;
 * true when more records were left unread. Pages continue from the oldest
 * receive time seen (listRecords' `to` includes it), skipping the records
 * at that time the previous page already gave: storage lists them in the
 * same order every time.
 */
async function readNewestFirst(
  storage: Pick<HubStorage, 'listRecords'>,
  filter: { agent: string; model: string; from: number },
  cap: number,
  pageSize: number,
  each: (body: unknown) => void,
): Promise<boolean> {
  let to: number | undefined;
  let skip = 0;
  let read = 0;
  for (;;) {
    const want = Math.min(pageSize, cap - read);
    const page = await storage.listRecords('scores', { ...filter, ...(to === undefined ? {} : { to }), limit: skip + Math.max(want, 1) });
    if (want === 0) return page.length > skip;
    for (let i = skip; i < page.length; i++) each(page[i]!.body);
    read += Math.max(0, page.length - skip);
    if (page.length < skip + want) return false;
    const oldest = page[page.length - 1]!.receivedAt;
    skip = page.filter((r) => r.receivedAt === oldest).length;
    to = oldest;
  }
}
