import type { ModelVersions } from '../../api/api-types.js';

/** What a gateway runs: per model the active version, a shadow candidate, and the state when not scoring. */
export function ModelVersionsCell({ models }: { models: readonly ModelVersions[] }) {
  if (models.length === 0) return <span class="muted">none</span>;
  return (
    <>
      {models.map((m) => (
        <div key={m.name} class="model-line">
          {m.name} <strong>{m.active ?? '–'}</strong>
          {m.shadow ? <span class="chip chip-shadow"> shadow {m.shadow}</span> : null}
          {m.state !== 'scoring' ? <span class="problem-text"> {m.state}</span> : null}
        </div>
      ))}
    </>
  );
}
