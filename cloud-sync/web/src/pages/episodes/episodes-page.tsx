import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, withQuery } from '../../api/api-client.js';
import type { EpisodeList } from '../../api/api-types.js';
import { ErrorNotice } from '../../components/error-notice.js';
import { parseLocalDateTime } from '../../format/time-format.js';
import { usePolled } from '../../hooks/use-polled.js';
import { useReviewQueue } from '../episode/review-queue.js';
import { DigestSummary } from './digest-summary.js';
import { DEFAULT_FILTER, PAGE_SIZE, type EpisodeFilter } from './episode-filter.js';
import { EpisodeFilters } from './episode-filters.js';
import { EpisodeRow } from './episode-row.js';
import { searchQuery } from './episode-search.js';

// Kept across page changes: coming back from an episode shows the same tab and filters.
let remembered: EpisodeFilter = DEFAULT_FILTER;

/** The start page: the digest, then the episodes waiting for an answer (alarms first, newest first). */
export function EpisodesPage() {
  const [filter, setFilter] = useState(remembered);
  const queue = useReviewQueue();
  const update = useCallback(
    (patch: Partial<EpisodeFilter>) =>
      setFilter((f) => {
        // A new question to the hub (the search included) starts from the first page.
        const asksAnew = Object.keys(patch).some((key) => key !== 'limit');
        const next = { ...f, ...patch, ...(asksAnew ? { limit: PAGE_SIZE } : {}) };
        remembered = next;
        return next;
      }),
    [],
  );

  const path = withQuery('/api/episodes', {
    status: filter.status,
    agent: filter.agent,
    model: filter.model,
    from: parseLocalDateTime(filter.from),
    to: parseLocalDateTime(filter.to),
    q: searchQuery(filter.search),
    limit: filter.limit,
  });
  const list = usePolled(() => api.get<EpisodeList>(path), [path]);
  const shown = list.data?.episodes;
  const { setIds } = queue;
  useEffect(() => setIds((shown ?? []).map((e) => e.episode.id)), [shown, setIds]);

  const now = Date.now();
  const fetched = shown?.length ?? 0;
  return (
    <>
      <DigestSummary />
      <EpisodeFilters filter={filter} onChange={update} />
      <ErrorNotice error={list.error} context="Episodes" />
      <table class="table episodes-table" data-testid="episodes-table">
        <thead>
          <tr>
            <th>Severity</th>
            <th>Gateway</th>
            <th>Model</th>
            <th>Start</th>
            <th>Duration</th>
            <th class="num">Peak</th>
            <th>Top tags</th>
            <th>Answer</th>
          </tr>
        </thead>
        <tbody>
          {(shown ?? []).map((entry) => (
            <EpisodeRow entry={entry} now={now} key={entry.episode.id} />
          ))}
        </tbody>
      </table>
      {list.data && fetched === 0 ? (
        <p class="empty" data-testid="episodes-empty">
          {searchQuery(filter.search) !== undefined ? 'No episode matches the search.' : filter.status === 'unresolved' ? 'Nothing waits for an answer.' : 'No episodes match these filters.'}
        </p>
      ) : null}
      {list.loading && !list.data ? <p class="muted">Loading episodes…</p> : null}
      <footer class="list-footer">
        <span class="muted">
          {fetched} shown · refreshes every 15 s · press an episode to review it, then j/k to step through
        </span>
        {fetched >= filter.limit && filter.limit < 1000 ? (
          <button type="button" onClick={() => update({ limit: filter.limit + PAGE_SIZE })} data-testid="episodes-more">
            Load {PAGE_SIZE} more
          </button>
        ) : null}
      </footer>
    </>
  );
}
