import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api/api-client.js';
import { isNotServed } from '../../api/api-error.js';
import { ErrorNotice } from '../../components/error-notice.js';
import { NotServed } from '../../components/not-served.js';
import { usePolled } from '../../hooks/use-polled.js';
import { useAction } from './use-action.js';

/** The causes operators pick from when they answer "real problem". Edited locally, saved as a whole. */
export function CausesEditor() {
  const stored = usePolled(() => api.get<{ causes: string[] }>('/api/causes'), [], null);
  const action = useAction();
  const [causes, setCauses] = useState<string[] | undefined>();
  const [adding, setAdding] = useState('');
  const [saved, setSaved] = useState(false);
  // Taken from the hub once: a refresh (on window focus) must not undo unsaved edits.
  useEffect(() => {
    if (stored.data && causes === undefined) setCauses(stored.data.causes);
  }, [stored.data, causes]);

  if (isNotServed(stored.error)) return <NotServed what="Causes list" />;
  const list = causes ?? [];
  const dirty = stored.data !== undefined && JSON.stringify(stored.data.causes) !== JSON.stringify(list);
  const add = (event: Event) => {
    event.preventDefault();
    const cause = adding.trim();
    if (cause !== '' && !list.includes(cause)) setCauses([...list, cause]);
    setAdding('');
    setSaved(false);
  };
  const save = async () => {
    if (await action.run('Saving the causes', () => api.put('/api/causes', { causes: list }))) {
      setSaved(true);
      stored.reload();
    }
  };

  return (
    <section class="card" data-testid="causes-editor">
      <h2>Causes</h2>
      <p class="muted small">Operators pick one of these when they answer "Real problem" (or type their own).</p>
      <ErrorNotice error={stored.error} context="Causes" />
      <ErrorNotice error={action.error?.error} context={action.error?.context} />
      <ul class="cause-list">
        {list.map((c) => (
          <li key={c} data-testid="cause-item">
            <span>{c}</span>
            <button
              type="button"
              class="button-quiet"
              onClick={() => {
                setCauses(list.filter((x) => x !== c));
                setSaved(false);
              }}
              aria-label={`Remove ${c}`}
            >
              ×
            </button>
          </li>
        ))}
        {list.length === 0 ? <li class="muted">No causes yet.</li> : null}
      </ul>
      <form class="form-row add-form" onSubmit={add}>
        <input placeholder="New cause, e.g. Bearing wear" value={adding} maxLength={500} onInput={(e) => setAdding(e.currentTarget.value)} data-testid="cause-add-text" aria-label="New cause" />
        <button type="submit" data-testid="cause-add">
          Add
        </button>
        <button type="button" class="button-primary" disabled={!dirty || action.busy} onClick={() => void save()} data-testid="causes-save">
          Save causes
        </button>
        {saved && !dirty ? <span class="ok-text">Saved.</span> : null}
        {dirty ? <span class="muted small">unsaved changes</span> : null}
      </form>
    </section>
  );
}
