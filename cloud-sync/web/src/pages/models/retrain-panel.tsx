import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api/api-client.js';
import { asApiError, type ApiError } from '../../api/api-error.js';
import type { DeploymentView } from '../../api/api-types.js';
import { ErrorNotice } from '../../components/error-notice.js';
import { trainOnHub, TrainingProgress, type TrainingJobView } from './training-job.js';

/** What POST /api/models/:name/versions/:version/retrain answers (cloud-sync/training/hub-training.ts RetrainResult). */
interface RetrainResultView {
  record: { name: string; version: string };
  parent: string;
  resolutionsUsed: number;
  comparison: { comparable: true; windows: number; parent: { windows: number; alarms: number }; candidate: { windows: number; alarms: number } } | { comparable: false; reason: string };
  /** How the data was read: this version's answers from raw history or only from snapshots, and the parent's sources read again. */
  data: {
    answers: { rawHistory: number; snapshot: number };
    parentSources: Array<{ kind: string; name: string; read: 'complete' | 'partial' | 'snapshot' | 'missing'; note?: string }>;
  };
}

interface RetrainPanelProps {
  model: string;
  version: string;
  /** Gateways running `version` actively: where the candidate is offered in shadow. */
  runningOn: readonly string[];
  onChanged: () => void;
}

/**
 * Admins retrain a version from its episodes answered as normal operation
 * (a training job on the hub: its state and progress show while it runs),
 * see how the data was read and how many alarm windows parent and candidate
 * raise on it, and put the candidate in shadow beside the parent on the
 * gateways running it.
 */
export function RetrainPanel({ model, version, runningOn, onChanged }: RetrainPanelProps) {
  const [result, setResult] = useState<RetrainResultView | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const [shadowMinutes, setShadowMinutes] = useState('60');
  const [deployment, setDeployment] = useState<DeploymentView | undefined>();
  const [job, setJob] = useState<TrainingJobView | undefined>();
  const mounted = useRef(true);
  useEffect(() => () => void (mounted.current = false), []);

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
  const retrain = () =>
    run(async () => {
      setDeployment(undefined);
      try {
        setResult(await trainOnHub<RetrainResultView>(`/api/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/retrain`, {}, setJob, () => mounted.current));
      } finally {
        setJob(undefined);
      }
      onChanged();
    });
  const shadow = (candidate: string) =>
    run(async () => {
      const minutes = Number(shadowMinutes);
      if (!Number.isFinite(minutes) || minutes <= 0) throw new Error('shadow period: a number of minutes above 0');
      setDeployment(await api.post<DeploymentView>('/api/deployments', { model, version: candidate, agents: [...runningOn], shadowMs: Math.round(minutes * 60_000) }));
      onChanged();
    });

  return (
    <div class="retrain-panel" data-testid="retrain-panel">
      <button type="button" class="button-primary" disabled={busy} onClick={retrain} data-testid="retrain-submit">
        {busy && !result ? 'Retraining…' : `Retrain ${version} from answers`}
      </button>
      {busy && job ? <TrainingProgress job={job} testId="retrain-progress" /> : null}
      <ErrorNotice error={error} context="Retraining" />
      {result ? (
        <div class="notice notice-ok" data-testid="retrain-result">
          <p>
            {result.record.name} {result.record.version} registered, learnt from {result.resolutionsUsed} {result.resolutionsUsed === 1 ? 'answer' : 'answers'}.
          </p>
          <DataRead data={result.data} />
          <p data-testid="retrain-comparison">
            {result.comparison.comparable
              ? `Alarm windows on the answered episodes' data: ${version} ${result.comparison.parent.alarms} of ${result.comparison.parent.windows}, ${result.record.version} ${result.comparison.candidate.alarms} of ${result.comparison.candidate.windows}.`
              : `Not compared: ${result.comparison.reason}.`}
          </p>
          {runningOn.length === 0 ? (
            <p class="muted small">{version} runs on no gateway: deploy the new version from the form.</p>
          ) : deployment ? (
            <p data-testid="retrain-shadow-started">
              Deployment {deployment.id}: {result.record.version} in shadow on {deployment.targets.length} {deployment.targets.length === 1 ? 'gateway' : 'gateways'}.
            </p>
          ) : (
            <div class="form-row">
              <label class="field" title="The new version scores beside the active one for this long, then the hub activates it.">
                Shadow, minutes
                <input type="number" min={1} step="any" value={shadowMinutes} onInput={(e) => setShadowMinutes(e.currentTarget.value)} data-testid="retrain-shadow-minutes" />
              </label>
              <button type="button" disabled={busy} onClick={() => shadow(result.record.version)} data-testid="retrain-shadow">
                Deploy in shadow on {runningOn.join(', ')}
              </button>
            </div>
          )}
        </div>
      ) : null}
    </div>
  );
}

/** How the retraining read its data: the answers from raw history or snapshots, and each of the parent's sources. */
function DataRead({ data }: { data: RetrainResultView['data'] }) {
  const { answers, parentSources } = data;
  const kept = parentSources.filter((s) => s.read !== 'missing').length;
  return (
    <div data-testid="retrain-data">
      <p>
        Answers' data: {answers.rawHistory} from the gateways' raw history, {answers.snapshot} only from the episodes' downsampled snapshots. The parent's data read
        again: {kept} of {parentSources.length} {parentSources.length === 1 ? 'source' : 'sources'}.
      </p>
      {parentSources.length > 0 ? (
        <ul class="small">
          {parentSources.map((s, i) => (
            <li key={i}>
              {s.kind} {s.name}: {s.read}
              {s.note ? ` — ${s.note}` : ''}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
