import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api/api-client.js';
import { asApiError, type ApiError } from '../../api/api-error.js';
import type { AgentView, DeploymentView } from '../../api/api-types.js';
import { ErrorNotice } from '../../components/error-notice.js';
import { trainOnHub, TrainingProgress, type TrainingJobView } from './training-job.js';

/** What POST /api/models/train answers (cloud-sync/api/training-routes.ts). */
interface TrainResultView {
  record: { name: string; version: string };
  thresholds: { warn: number; alarm: number };
  calibration: { heldOutWindows: number; heldOutMaxScore: number };
  windows: { sufficient: number; insufficient: number };
  samples: Record<string, number>;
}

interface LearnFormProps {
  agents: readonly AgentView[];
  onChanged: () => void;
}

/** `datetime-local` value of a time, in the browser's zone. */
function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

interface Fields {
  agent: string;
  tags: string;
  from: string;
  to: string;
  samplePeriodMs: string;
  windowLength: string;
  name: string;
}

/**
 * "Learn normal behaviour" (admins): pick a gateway, its tags and a period of
 * normal operation; the hub fetches that raw history from the gateway (it
 * must be online), trains and registers a new version, which this form then
 * offers to deploy back to the gateway — in shadow when it already runs a
 * version of the model. The training runs as a job on the hub; the form
 * shows its state and progress while it waits.
 */
export function LearnForm({ agents, onChanged }: LearnFormProps) {
  const online = agents.filter((a) => a.online && !a.revoked);
  const now = Date.now();
  const [fields, setFields] = useState<Fields>({ agent: '', tags: '', from: localInput(now - 3_600_000), to: localInput(now), samplePeriodMs: '1000', windowLength: '30', name: '' });
  const [problem, setProblem] = useState<string | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ agent: string; trained: TrainResultView } | undefined>();
  const [shadowMinutes, setShadowMinutes] = useState('60');
  const [deployment, setDeployment] = useState<DeploymentView | undefined>();
  const [job, setJob] = useState<TrainingJobView | undefined>();
  const mounted = useRef(true);
  useEffect(() => () => void (mounted.current = false), []);
  const set = (patch: Partial<Fields>) => setFields((f) => ({ ...f, ...patch }));
  const agent = fields.agent || online[0]?.id || '';

  const run = async (action: () => Promise<void>) => {
    setError(undefined);
    setBusy(true);
    try {
      await action();
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };

  const submit = (event: Event) => {
    event.preventDefault();
    const tags = fields.tags.split(/[\s,]+/).filter((t) => t.length > 0);
    const from = new Date(fields.from).getTime();
    const to = new Date(fields.to).getTime();
    const samplePeriodMs = Number(fields.samplePeriodMs);
    const windowLength = Number(fields.windowLength);
    const found =
      agent === '' ? 'pick an online gateway' :
      tags.length === 0 ? 'name at least one tag' :
      !(from < to) ? 'the period must end after it starts' :
      !(samplePeriodMs > 0) ? 'sample period: milliseconds above 0' :
      !(Number.isInteger(windowLength) && windowLength > 0) ? 'window: a whole number of samples above 0' :
      fields.name.trim() === '' ? 'give the model a name' : undefined;
    setProblem(found);
    if (found) return;
    return run(async () => {
      setResult(undefined);
      setDeployment(undefined);
      try {
        const trained = await trainOnHub<TrainResultView>('/api/models/train', { agent, tags, from, to, name: fields.name.trim(), samplePeriodMs, windowLength }, setJob, () => mounted.current);
        setResult({ agent, trained });
      } finally {
        setJob(undefined);
      }
      onChanged();
    });
  };

  const deploy = (shadow: boolean) =>
    run(async () => {
      if (!result) return;
      const minutes = Number(shadowMinutes);
      if (shadow && !(minutes > 0)) throw new Error('shadow period: a number of minutes above 0');
      const { name, version } = result.trained.record;
      setDeployment(await api.post<DeploymentView>('/api/deployments', { model: name, version, agents: [result.agent], ...(shadow ? { shadowMs: Math.round(minutes * 60_000) } : {}) }));
      onChanged();
    });

  // A shadow needs an active version of the same model beside it; without one the new version simply starts.
  const runsModel = result ? agents.find((a) => a.id === result.agent)?.models.some((m) => m.name === result.trained.record.name && m.active !== null) === true : false;
  return (
    <form class="card deploy-form" onSubmit={submit} data-testid="learn-form">
      <h2>Learn normal behaviour</h2>
      <p class="muted small">The hub fetches the tags' raw history for a period of normal operation from the gateway, trains a model and registers it as a new version.</p>
      <label class="field">
        Gateway
        <select value={agent} onChange={(e) => set({ agent: e.currentTarget.value })} data-testid="learn-agent">
          {online.length === 0 ? <option value="">no gateway online</option> : null}
          {online.map((a) => (
            <option value={a.id} key={a.id}>
              {a.id}
            </option>
          ))}
        </select>
      </label>
      <label class="field">
        Tags (comma-separated)
        <textarea rows={2} value={fields.tags} onInput={(e) => set({ tags: e.currentTarget.value })} placeholder="pump1.flowrate, pump1.pressure" data-testid="learn-tags" />
      </label>
      <div class="form-row">
        <label class="field">
          From
          <input type="datetime-local" value={fields.from} onInput={(e) => set({ from: e.currentTarget.value })} data-testid="learn-from" />
        </label>
        <label class="field">
          To
          <input type="datetime-local" value={fields.to} onInput={(e) => set({ to: e.currentTarget.value })} data-testid="learn-to" />
        </label>
      </div>
      <div class="form-row">
        <label class="field" title="The model's grid: one cell per this many milliseconds.">
          Sample period, ms
          <input type="number" min={1} value={fields.samplePeriodMs} onInput={(e) => set({ samplePeriodMs: e.currentTarget.value })} data-testid="learn-period" />
        </label>
        <label class="field" title="Samples per window.">
          Window
          <input type="number" min={1} value={fields.windowLength} onInput={(e) => set({ windowLength: e.currentTarget.value })} data-testid="learn-window" />
        </label>
      </div>
      <label class="field">
        Model name
        <input value={fields.name} onInput={(e) => set({ name: e.currentTarget.value })} placeholder="pump1-normal" data-testid="learn-name" />
      </label>
      {problem ? <p class="notice notice-error">{problem}</p> : null}
      <button type="submit" class="button-primary" disabled={busy} data-testid="learn-submit">
        {busy && !result ? 'Fetching and training…' : 'Learn'}
      </button>
      {busy && job ? <TrainingProgress job={job} testId="learn-progress" /> : null}
      <ErrorNotice error={error} context="Learning" />
      {result ? (
        <div class="notice notice-ok" data-testid="learn-result">
          <p>
            {result.trained.record.name} {result.trained.record.version} registered from {Object.values(result.trained.samples).reduce((a, b) => a + b, 0)} samples of {result.agent} ({result.trained.windows.sufficient} windows); alarm at ≥ {result.trained.thresholds.alarm.toPrecision(3)}.
          </p>
          {deployment ? (
            <p data-testid="learn-deployed">
              Deployment {deployment.id}: {result.trained.record.version}{runsModel ? ' in shadow' : ''} on {result.agent}.
            </p>
          ) : runsModel ? (
            <div class="form-row">
              <label class="field" title="The new version scores beside the active one for this long, then the hub activates it.">
                Shadow, minutes
                <input type="number" min={1} step="any" value={shadowMinutes} onInput={(e) => setShadowMinutes(e.currentTarget.value)} data-testid="learn-shadow-minutes" />
              </label>
              <button type="button" disabled={busy} onClick={() => deploy(true)} data-testid="learn-shadow">
                Deploy in shadow on {result.agent}
              </button>
            </div>
          ) : (
            <button type="button" disabled={busy} onClick={() => deploy(false)} data-testid="learn-deploy">
              Deploy to {result.agent} ({result.agent} runs no version of {result.trained.record.name} yet, so it starts at once)
            </button>
          )}
        </div>
      ) : null}
    </form>
  );
}
