import { useMemo, useState } from 'preact/hooks';
import { api } from '../../api/api-client.js';
import { isNotServed } from '../../api/api-error.js';
import type { EpisodeDetail } from '../../api/api-types.js';
import { ErrorNotice } from '../../components/error-notice.js';
import { usePolled } from '../../hooks/use-polled.js';
import { plotFrame } from '../../plots/plot-frame.js';
import { episodeHref, navigate } from '../../routing/route.js';
import { useSession } from '../../session/session-context.js';
import { AnswerPanel } from './answer-panel.js';
import { EpisodeFacts } from './episode-facts.js';
import { isPlainKey, isTypingTarget } from './keyboard.js';
import { neighbour } from './review-queue.js';
import { ScoreSection } from './score-section.js';
import { ShortcutHelp } from './shortcut-help.js';
import { TagPlots } from './tag-plots.js';
import { useKeyHandler } from './use-key-handler.js';
import { useQueueIds } from './use-queue-ids.js';

const NO_CAUSES: readonly string[] = [];

/** One episode: its facts, the score and signal plots with the span shaded, and the answer panel. */
export function EpisodePage({ id }: { id: string }) {
  const { canResolve } = useSession();
  const detail = usePolled(() => api.get<EpisodeDetail>(`/api/episodes/${encodeURIComponent(id)}`), [id]);
  const causes = usePolled(() => api.get<{ causes: string[] }>('/api/causes'), [], null);
  const ids = useQueueIds(id);
  const [help, setHelp] = useState(false);

  const episode = detail.data?.episode;
  // Plots are rebuilt only for a new revision, not for every poll of the same one.
  const revisionKey = episode ? `${episode.id}#${episode.revision}` : '';
  const plotted = useMemo(() => episode, [revisionKey]);
  const frame = useMemo(() => (plotted ? plotFrame(plotted, Date.now()) : undefined), [plotted]);

  const next = neighbour(ids, id, 1);
  const previous = neighbour(ids, id, -1);
  useKeyHandler((event) => {
    if (event.key === 'Escape') {
      setHelp(false);
      if (event.target instanceof HTMLElement && isTypingTarget(event.target)) event.target.blur();
      return;
    }
    if (isTypingTarget(event.target) || !isPlainKey(event)) return;
    if (event.key === '?') setHelp((h) => !h);
    else if (event.key === 'j' && next) navigate(episodeHref(next));
    else if (event.key === 'k' && previous) navigate(episodeHref(previous));
  });

  const position = ids.indexOf(id);
  return (
    <>
      <nav class="episode-nav">
        <a href="#/episodes">← All episodes</a>
        <span class="muted" data-testid="queue-position">
          {position === -1 ? 'not in the current list' : `${position + 1} of ${ids.length} in the list`}
        </span>
        <button type="button" disabled={!previous} onClick={() => previous && navigate(episodeHref(previous))} data-testid="episode-previous">
          <kbd>k</kbd> Previous
        </button>
        <button type="button" disabled={!next} onClick={() => next && navigate(episodeHref(next))} data-testid="episode-next">
          Next <kbd>j</kbd>
        </button>
        <button type="button" class="button-quiet" onClick={() => setHelp(true)} data-testid="shortcuts-button">
          Shortcuts <kbd>?</kbd>
        </button>
      </nav>
      <ErrorNotice error={detail.error} context={`Episode ${id}`} />
      {detail.loading && !episode ? <p class="muted">Loading the episode…</p> : null}
      {episode && plotted && frame ? (
        <div class="episode-layout">
          <div class="episode-main">
            <EpisodeFacts episode={episode} now={Date.now()} />
            <ScoreSection episode={plotted} frame={frame} />
            <TagPlots episode={plotted} frame={frame} />
          </div>
          <aside class="episode-side">
            <AnswerPanel episodeId={episode.id} resolution={detail.data?.resolution ?? null} causes={causes.data?.causes ?? NO_CAUSES} onSaved={detail.reload} />
            {causes.error && !isNotServed(causes.error) ? <ErrorNotice error={causes.error} context="Causes list" /> : null}
          </aside>
        </div>
      ) : null}
      {help ? <ShortcutHelp canResolve={canResolve} onClose={() => setHelp(false)} /> : null}
    </>
  );
}
