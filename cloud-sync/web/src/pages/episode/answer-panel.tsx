import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api/api-client.js';
import { asApiError, type ApiError } from '../../api/api-error.js';
import type { Resolution, ResolutionLabel } from '../../api/api-types.js';
import { ErrorNotice } from '../../components/error-notice.js';
import { useSession } from '../../session/session-context.js';
import { LABEL_TEXT } from '../episodes/resolution-text.js';
import { CauseField } from './cause-field.js';
import { isPlainKey, isTypingTarget } from './keyboard.js';
import { ResolutionSummary } from './resolution-summary.js';
import { useKeyHandler } from './use-key-handler.js';

const KEYS: Record<string, ResolutionLabel> = { r: 'real', n: 'normal', u: 'unsure' };
const LABELS: ResolutionLabel[] = ['real', 'normal', 'unsure'];

interface AnswerPanelProps {
  episodeId: string;
  resolution: Resolution | null;
  causes: readonly string[];
  onSaved: () => void;
}

/**
 * Answering an episode: real problem (with a cause), normal operation, or not
 * sure, plus a note. `r`/`n`/`u` pick, Enter submits. Viewers see the answer
 * and why they cannot give one.
 */
export function AnswerPanel({ episodeId, resolution, causes, onSaved }: AnswerPanelProps) {
  const { canResolve, user } = useSession();
  const [label, setLabel] = useState<ResolutionLabel | null>(resolution?.label ?? null);
  const [cause, setCause] = useState(resolution?.cause ?? '');
  const [typing, setTyping] = useState(false);
  const [note, setNote] = useState(resolution?.note ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const [saved, setSaved] = useState(false);

  // A new episode (j/k) or a new answer from someone else starts the form afresh. Causes are
  // compared by content: refetching the same list must not wipe what is being typed.
  useEffect(() => {
    setLabel(resolution?.label ?? null);
    setCause(resolution?.cause ?? '');
    setTyping(resolution?.cause ? !causes.includes(resolution.cause) : false);
    setNote(resolution?.note ?? '');
    setError(undefined);
  }, [episodeId, resolution?.at, causes.join('\n')]);
  useEffect(() => setSaved(false), [episodeId]);

  const submit = async () => {
    if (!canResolve || busy || label === null) return;
    setBusy(true);
    setError(undefined);
    setSaved(false);
    try {
      const trimmedCause = cause.trim();
      const trimmedNote = note.trim();
      await api.post(`/api/episodes/${encodeURIComponent(episodeId)}/resolution`, {
        label,
        ...(label === 'real' && trimmedCause !== '' ? { cause: trimmedCause } : {}),
        ...(trimmedNote !== '' ? { note: trimmedNote } : {}),
      });
      setSaved(true);
      onSaved();
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };

  useKeyHandler((event) => {
    if (!canResolve) return;
    if (event.key === 'Enter' && event.ctrlKey && event.target instanceof HTMLTextAreaElement) {
      event.preventDefault();
      void submit();
      return;
    }
    if (isTypingTarget(event.target) || !isPlainKey(event)) return;
    const picked = KEYS[event.key];
    if (picked) {
      event.preventDefault();
      setLabel(picked);
      setSaved(false);
    } else if (event.key === 'Enter' && (isAnswerChoice(event.target) || !(event.target instanceof HTMLButtonElement || event.target instanceof HTMLAnchorElement))) {
      event.preventDefault();
      void submit();
    }
  });

  return (
    <section class="card answer-panel" data-testid="answer-panel">
      <h2>Was this a real problem?</h2>
      <ResolutionSummary resolution={resolution} />
      {!canResolve ? (
        <p class="notice" data-testid="resolve-disabled-reason">
          You are signed in as <strong>{user.name}</strong> with the role viewer: viewers can look at episodes but not answer them. An admin can give you the operator role.
        </p>
      ) : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <div class="answer-choices" role="radiogroup" aria-label="Answer">
          {LABELS.map((l) => (
            <button
              type="button"
              role="radio"
              aria-checked={label === l}
              class={`answer-choice answer-${l}${label === l ? ' answer-chosen' : ''}`}
              disabled={!canResolve}
              onClick={() => {
                setLabel(l);
                setSaved(false);
              }}
              data-testid={`resolve-${l}`}
              key={l}
            >
              {LABEL_TEXT[l]} <kbd>{l === 'real' ? 'r' : l === 'normal' ? 'n' : 'u'}</kbd>
            </button>
          ))}
        </div>
        {label === 'real' ? (
          <label class="field">
            Cause
            <CauseField causes={causes} value={cause} onChange={setCause} typing={typing} onTypingChange={setTyping} disabled={!canResolve} />
          </label>
        ) : null}
        <label class="field">
          Note (optional)
          <textarea rows={3} maxLength={4000} value={note} disabled={!canResolve} onInput={(e) => setNote(e.currentTarget.value)} data-testid="answer-note" placeholder="What you saw, what was done" />
        </label>
        <ErrorNotice error={error} context="The answer was not saved" />
        {saved ? (
          <p class="notice notice-ok" data-testid="answer-saved">
            Saved. Press <kbd>j</kbd> for the next episode.
          </p>
        ) : null}
        <button type="submit" class="button-primary" disabled={!canResolve || busy || label === null} data-testid="resolve-submit">
          {busy ? 'Saving…' : resolution ? 'Change the answer' : 'Submit answer'} <kbd>Enter</kbd>
        </button>
      </form>
    </section>
  );
}

/** After clicking an answer, focus stays on its button: Enter there submits rather than clicking it again. */
function isAnswerChoice(target: EventTarget | null): boolean {
  return target instanceof HTMLButtonElement && target.getAttribute('role') === 'radio';
}
