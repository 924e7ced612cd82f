export type StatusTab = 'unresolved' | 'resolved' | 'all';

/** What the episodes list asks the hub for: status, agent, model, time span, text search, how many. */
export interface EpisodeFilter {
  status: StatusTab;
  agent: string;
  model: string;
  /** `datetime-local` input values, '' when not set. */
  from: string;
  to: string;
  search: string;
  limit: number;
}

export const PAGE_SIZE = 100;

export const DEFAULT_FILTER: EpisodeFilter = { status: 'unresolved', agent: '', model: '', from: '', to: '', search: '', limit: PAGE_SIZE };
