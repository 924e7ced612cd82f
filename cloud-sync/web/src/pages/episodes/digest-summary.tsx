import { api } from '../../api/api-client.js';
import { isNotServed } from '../../api/api-error.js';
import type { Digest } from '../../api/api-types.js';
import { ErrorNotice } from '../../components/error-notice.js';
import { NotServed } from '../../components/not-served.js';
import { formatAge, formatDateTime } from '../../format/time-format.js';
import { usePolled } from '../../hooks/use-polled.js';

/** The same digest the hub sends to the webhook: how many episodes wait, since when, per model. */
export function DigestSummary() {
  const digest = usePolled(() => api.get<Digest>('/api/digest'), []);
  if (isNotServed(digest.error)) return <NotServed what="Digest" />;
  const d = digest.data;
  return (
    <section class="digest card" data-testid="digest">
      <ErrorNotice error={digest.error} context="Digest" />
      {d === undefined ? (
        digest.loading ? <span class="muted">Loading the digest…</span> : null
      ) : d.waiting === 0 ? (
        <strong data-testid="digest-text">No episodes wait for an answer.</strong>
      ) : (
        <>
          <strong data-testid="digest-text">
            {d.waiting} {d.waiting === 1 ? 'episode waits' : 'episodes wait'} for an answer
            {d.oldestWaitingSince !== null ? `, oldest since ${formatDateTime(d.oldestWaitingSince).slice(0, 16)} (${formatAge(d.oldestWaitingSince)})` : ''}.
          </strong>
          {d.byModel.length > 0 ? (
            <span class="digest-models">
              {d.byModel.map((m) => (
                <span class="chip" key={m.model}>
                  {m.model}: {m.waiting}
                </span>
              ))}
            </span>
          ) : null}
        </>
      )}
    </section>
  );
}
