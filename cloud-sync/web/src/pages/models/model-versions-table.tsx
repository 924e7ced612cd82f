import { useState } from 'preact/hooks';
import type { AgentView, ModelEntry, VersionPerformanceView } from '../../api/api-types.js';
import { formatShare } from '../../format/number-format.js';
import { formatDateTime } from '../../format/time-format.js';
import { RetrainPanel } from './retrain-panel.js';
import { runningOn } from './running-on.js';
import { ScoreHistogram } from './score-histogram.js';

interface ModelVersionsTableProps {
  model: ModelEntry;
  agents: readonly AgentView[];
  /** undefined: the performance endpoint did not answer. */
  performance: readonly VersionPerformanceView[] | undefined;
  /** Admins may retrain a version from its episodes answered as normal operation. */
  canRetrain?: boolean;
  /** A version was added or deployed from this card. */
  onChanged?: () => void;
}

/** One model's versions, newest first, with where they run and how their episodes were judged. */
export function ModelVersionsTable({ model, agents, performance, canRetrain = false, onChanged = () => {} }: ModelVersionsTableProps) {
  const versions = [...model.versions].reverse();
  const [retrainFrom, setRetrainFrom] = useState<string | undefined>();
  return (
    <section class="card model-card" data-testid="model-card" data-model={model.name}>
      <h2>
        {model.name} <span class="muted small">{model.description}</span>
      </h2>
      <table class="table">
        <thead>
          <tr>
            <th>Version</th>
            <th>Uploaded</th>
            <th>Running on</th>
            <th class="num" title="Episodes per day between its first and last episode">Episodes / day</th>
            <th class="num" title="Share of its episodes answered real problem">Real</th>
            <th class="num" title="Share answered normal operation">Normal</th>
            <th class="num" title="Share answered at all">Answered</th>
            <th>Score distribution</th>
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => {
            const perf = performance?.find((p) => p.model === model.name && p.version === v.version);
            const runs = runningOn(agents, model.name, v.version);
            // Shares of nothing answered yet would read as "0% real": show none.
            const answered = perf !== undefined && perf.episodes - perf.unresolved > 0;
            return (
              <tr key={v.version} data-testid="model-version-row" data-model={model.name} data-version={v.version}>
                <td>
                  <strong>{v.version}</strong>
                  {v.version === model.latest ? <span class="chip">latest</span> : null}
                  {canRetrain && perf !== undefined && perf.normal > 0 ? (
                    <div>
                      <button type="button" class="small" onClick={() => setRetrainFrom(v.version)} title={`Learn from the ${perf.normal} episodes answered normal operation`} data-testid="retrain-open">
                        Retrain from answers ({perf.normal})
                      </button>
                    </div>
                  ) : null}
                </td>
                <td class="small">
                  {formatDateTime(v.uploadedAt).slice(0, 16)}
                  <div class="muted">by {v.uploadedBy}</div>
                </td>
                <td class="small" data-testid="running-on">
                  {runs.active.length === 0 && runs.shadow.length === 0 ? <span class="muted">nowhere</span> : null}
                  {runs.active.length > 0 ? <div title={runs.active.join(', ')}>active on {listed(runs.active)}</div> : null}
                  {runs.shadow.length > 0 ? <div title={runs.shadow.join(', ')}>shadow on {listed(runs.shadow)}</div> : null}
                </td>
                <td class="num">{perf ? perf.episodesPerDay.toFixed(1) : '–'}</td>
                <td class="num">{answered ? formatShare(perf.realShare) : '–'}</td>
                <td class="num">{answered ? formatShare(perf.normalShare) : '–'}</td>
                <td class="num" title={perf ? `${perf.episodes} episodes, ${perf.unresolved} waiting` : undefined}>
                  {perf ? `${formatShare(perf.resolvedShare)} of ${perf.episodes}` : '–'}
                </td>
                <td>
                  <ScoreHistogram model={model.name} version={v.version} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {retrainFrom !== undefined ? <RetrainPanel model={model.name} version={retrainFrom} runningOn={runningOn(agents, model.name, retrainFrom).active} onChanged={onChanged} key={retrainFrom} /> : null}
    </section>
  );
}

/** Up to three ids, then a count. */
function listed(ids: readonly string[]): string {
  return ids.length <= 3 ? ids.join(', ') : `${ids.slice(0, 3).join(', ')} +${ids.length - 3}`;
}
