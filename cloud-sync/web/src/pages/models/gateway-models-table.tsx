import type { AgentView } from '../../api/api-types.js';

/** What each gateway runs, model by model, as the gateways last reported it. */
export function GatewayModelsTable({ agents, modelNames }: { agents: readonly AgentView[]; modelNames: readonly string[] }) {
  const live = agents.filter((a) => !a.revoked);
  const names = [...new Set([...modelNames, ...live.flatMap((a) => a.models.map((m) => m.name))])].sort();
  if (live.length === 0) return <p class="muted">No gateways yet.</p>;
  return (
    <table class="table" data-testid="gateway-models-table">
      <thead>
        <tr>
          <th>Gateway</th>
          {names.map((n) => (
            <th key={n}>{n}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {live.map((a) => (
          <tr key={a.id} data-testid="gateway-models-row" data-agent-id={a.id}>
            <td>
              {a.id} {a.online ? null : <span class="muted small">(offline)</span>}
            </td>
            {names.map((n) => {
              const m = a.models.find((x) => x.name === n);
              return (
                <td key={n} data-model={n}>
                  {m ? (
                    <>
                      <strong>{m.active ?? '–'}</strong>
                      {m.shadow ? <span class="chip chip-shadow">shadow {m.shadow}</span> : null}
                      {m.state !== 'scoring' ? <span class="problem-text small"> {m.state}</span> : null}
                    </>
                  ) : (
                    <span class="muted">–</span>
                  )}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
