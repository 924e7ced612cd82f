import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api/api-client.js';
import { asApiError, type ApiError } from '../../api/api-error.js';
import type { AgentView, DeploymentView, ModelEntry } from '../../api/api-types.js';
import { ErrorNotice } from '../../components/error-notice.js';
import { deployBody, type DeployFields } from './deploy-request.js';

interface DeployFormProps {
  models: readonly ModelEntry[];
  agents: readonly AgentView[];
  onDeployed: (deployment: DeploymentView) => void;
}

const EMPTY: DeployFields = { model: '', version: '', agents: [], labels: '', shadowMinutes: '', canary: '' };

/** Admins deploy a version to chosen gateways or to gateways carrying labels, optionally in shadow first and canary-staged. */
export function DeployForm({ models, agents, onDeployed }: DeployFormProps) {
  const [fields, setFields] = useState<DeployFields>(EMPTY);
  const [problem, setProblem] = useState<string | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const [started, setStarted] = useState<DeploymentView | undefined>();
  const set = (patch: Partial<DeployFields>) => setFields((f) => ({ ...f, ...patch }));

  const model = models.find((m) => m.name === fields.model);
  const versions = model ? [...model.versions].reverse() : [];
  // A model picked (or the first one): its newest version is the likely choice.
  useEffect(() => {
    if (fields.model === '' && models[0]) set({ model: models[0].name, version: models[0].latest });
  }, [models, fields.model]);

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setStarted(undefined);
    const built = deployBody(fields);
    if ('error' in built) return setProblem(built.error);
    setProblem(undefined);
    setBusy(true);
    try {
      const deployment = await api.post<DeploymentView>('/api/deployments', built.body);
      setStarted(deployment);
      onDeployed(deployment);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };

  const toggleAgent = (id: string, on: boolean) => set({ agents: on ? [...fields.agents, id] : fields.agents.filter((a) => a !== id) });
  const candidates = agents.filter((a) => !a.revoked);
  return (
    <form class="card deploy-form" onSubmit={submit} data-testid="deploy-form">
      <h2>Deploy a version</h2>
      <div class="form-row">
        <label class="field">
          Model
          <select value={fields.model} onChange={(e) => set({ model: e.currentTarget.value, version: models.find((m) => m.name === e.currentTarget.value)?.latest ?? '' })} data-testid="deploy-model">
            {models.map((m) => (
              <option value={m.name} key={m.name}>
                {m.name}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          Version
          <select value={fields.version} onChange={(e) => set({ version: e.currentTarget.value })} data-testid="deploy-version">
            {versions.map((v) => (
              <option value={v.version} key={v.version}>
                {v.version}
                {v.version === model?.latest ? ' (latest)' : ''}
              </option>
            ))}
          </select>
        </label>
      </div>
      <fieldset class="field deploy-agents" data-testid="deploy-agents">
        <legend>Gateways</legend>
        {candidates.length === 0 ? <span class="muted">No gateways yet.</span> : null}
        {candidates.map((a) => {
          const runs = a.models.find((m) => m.name === fields.model);
          return (
            <label class="checkbox" key={a.id}>
              <input type="checkbox" value={a.id} checked={fields.agents.includes(a.id)} onChange={(e) => toggleAgent(a.id, e.currentTarget.checked)} data-testid="deploy-agent" />
              {a.id}
              <span class="muted small">
                {' '}
                {a.online ? 'online' : 'offline'}
                {runs?.active ? `, runs ${runs.active}` : ''}
              </span>
            </label>
          );
        })}
      </fieldset>
      <label class="field">
        and/or labels <span class="muted small">(key=value …, all must match)</span>
        <input value={fields.labels} placeholder="line=1" onInput={(e) => set({ labels: e.currentTarget.value })} data-testid="deploy-labels" />
      </label>
      <div class="form-row">
        <label class="field" title="The new version scores beside the active one for this long, then the hub activates it.">
          Shadow, minutes
          <input type="number" min={0} step="any" placeholder="none" value={fields.shadowMinutes} onInput={(e) => set({ shadowMinutes: e.currentTarget.value })} data-testid="deploy-shadow" />
        </label>
        <label class="field" title="This many gateways go first; the rest follow once they are all active.">
          Canary gateways
          <input type="number" min={1} step={1} placeholder="all at once" value={fields.canary} onInput={(e) => set({ canary: e.currentTarget.value })} data-testid="deploy-canary" />
        </label>
      </div>
      <p class="muted small">Shadow: the version scores beside the active one, then is activated. Canary: those gateways go first, the rest once they are active.</p>
      {problem ? (
        <div class="notice notice-error" role="alert" data-testid="deploy-problem">
          {problem}
        </div>
      ) : null}
      <ErrorNotice error={error} context="Deployment refused" />
      {started ? (
        <p class="notice notice-ok" data-testid="deploy-started">
          Deployment {started.id} started: {started.model} {started.version} to {started.targets.length} {started.targets.length === 1 ? 'gateway' : 'gateways'}.
        </p>
      ) : null}
      <button type="submit" class="button-primary" disabled={busy || models.length === 0} data-testid="deploy-submit">
        {busy ? 'Deploying…' : 'Deploy'}
      </button>
    </form>
  );
}
