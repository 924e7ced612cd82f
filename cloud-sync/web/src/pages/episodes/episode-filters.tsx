import { useEffect, useState } from 'preact/hooks';
import type { EpisodeFilter, StatusTab } from './episode-filter.js';
import { SEARCH_PAUSE_MS } from './episode-search.js';

const TABS: Array<{ status: StatusTab; text: string }> = [
  { status: 'unresolved', text: 'To resolve' },
  { status: 'resolved', text: 'Resolved' },
  { status: 'all', text: 'All' },
];

interface EpisodeFiltersProps {
  filter: EpisodeFilter;
  onChange: (patch: Partial<EpisodeFilter>) => void;
}

/** Tabs by status, the filters and the search box; the hub applies all of them. */
export function EpisodeFilters({ filter, onChange }: EpisodeFiltersProps) {
  // Text filters apply on `change` (Enter or leaving the field), not per keystroke: each one is a request.
  // The search box also applies when typing pauses, so it narrows the list as people type.
  const [typed, setTyped] = useState(filter.search);
  useEffect(() => {
    if (typed === filter.search) return;
    const timer = setTimeout(() => onChange({ search: typed }), SEARCH_PAUSE_MS);
    return () => clearTimeout(timer);
  }, [typed, filter.search, onChange]);
  return (
    <div class="filters">
      <div class="tabs" role="tablist">
        {TABS.map((t) => (
          <button type="button" role="tab" aria-selected={filter.status === t.status} class={filter.status === t.status ? 'tab tab-current' : 'tab'} onClick={() => onChange({ status: t.status })} data-testid={`tab-${t.status}`} key={t.status}>
            {t.text}
          </button>
        ))}
      </div>
      <input
        type="search"
        placeholder="Search: gateway, model, tag, answer, cause, note, who"
        value={typed}
        onInput={(e) => setTyped(e.currentTarget.value)}
        onChange={(e) => e.currentTarget.value !== filter.search && onChange({ search: e.currentTarget.value })}
        data-testid="episode-search"
        class="filter-search"
      />
      <input placeholder="Gateway" value={filter.agent} onChange={(e) => onChange({ agent: e.currentTarget.value.trim() })} data-testid="filter-agent" class="filter-short" />
      <input placeholder="Model" value={filter.model} onChange={(e) => onChange({ model: e.currentTarget.value.trim() })} data-testid="filter-model" class="filter-short" />
      <label class="filter-time">
        from <input type="datetime-local" value={filter.from} onChange={(e) => onChange({ from: e.currentTarget.value })} data-testid="filter-from" />
      </label>
      <label class="filter-time">
        to <input type="datetime-local" value={filter.to} onChange={(e) => onChange({ to: e.currentTarget.value })} data-testid="filter-to" />
      </label>
    </div>
  );
}
