import type { EpisodeFilter, StatusTab } from './episode-filter.js';

const TABS: Array<{ status: StatusTab; text: string }> = [
  { status: 'unresolved', text: 'To resolve' },
  { status: 'resolved', text: 'Resolved' },
  { status: 'all', text: 'All' },
];

interface EpisodeFiltersProps {
  filter: EpisodeFilter;
  onChange: (patch: Partial<EpisodeFilter>) => void;
}

/** Tabs by status, the hub-side filters and the search box over the fetched page. */
export function EpisodeFilters({ filter, onChange }: EpisodeFiltersProps) {
  // Text filters apply on `change` (Enter or leaving the field), not per keystroke: each one is a request.
  return (
    <div class="filters">
      <div class="tabs" role="tablist">
        {TABS.map((t) => (
          <button type="button" role="tab" aria-selected={filter.status === t.status} class={filter.status === t.status ? 'tab tab-current' : 'tab'} onClick={() => onChange({ status: t.status })} data-testid={`tab-${t.status}`} key={t.status}>
            {t.text}
          </button>
        ))}
      </div>
      <input type="search" placeholder="Search: gateway, model, tag, answer, cause, note" value={filter.search} onInput={(e) => onChange({ search: e.currentTarget.value })} data-testid="episode-search" class="filter-search" />
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
