import type { Episode } from '../../api/api-types.js';
import type { PlotFrame } from '../../plots/plot-frame.js';
import { TagPlot } from '../../plots/tag-plot.js';

/** Every tag of the snapshot, the largest contributors first. */
export function TagPlots({ episode, frame }: { episode: Pick<Episode, 'snapshot' | 'topTags'>; frame: PlotFrame }) {
  const share = new Map(episode.topTags.map((t) => [t.tag, t.share]));
  const rank = (tag: string) => {
    const at = episode.topTags.findIndex((t) => t.tag === tag);
    return at === -1 ? Number.MAX_SAFE_INTEGER : at;
  };
  const ordered = [...episode.snapshot].sort((a, b) => rank(a.tag) - rank(b.tag) || (a.tag < b.tag ? -1 : 1));
  return (
    <section class="plot-section">
      <h2>Signals</h2>
      {ordered.length === 0 ? <p class="muted">The agent sent no raw values with this episode.</p> : null}
      {ordered.map((s) => (
        <TagPlot snapshot={s} frame={frame} share={share.get(s.tag)} key={s.tag} />
      ))}
    </section>
  );
}
