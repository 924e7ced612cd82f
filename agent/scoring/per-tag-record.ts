/** `{ [tag]: values[offset + k] }` for each tag k of one model, keys in tag order. */
export type PerTagRecord = (values: Float64Array, offset: number) => Record<string, number>;

const compiled = new WeakMap<readonly string[], PerTagRecord>();

/**
 * The builder of a window's per-tag record (WindowResult.contributions) for
 * this tag list, made once per list (a manifest's `tags` array) and kept while
 * the list lives.
 *
 * Why generated code: filling `{}` key by key takes a map transition and a
 * keyed store per tag, ~75 ns a window of four tags, which was most of the
 * main thread's cost of turning 256 scores into results. An object literal with
 * constant keys is made from one boilerplate in ~13 ns. The keys are written
 * with JSON.stringify, so any tag name becomes a plain string literal and
 * nothing of it is run. `__proto__` is written as a computed key: as a plain
 * literal key it would set the record's prototype instead of a property.
 */
export function perTagRecord(tags: readonly string[]): PerTagRecord {
  let build = compiled.get(tags);
  if (build) return build;
  const fields = tags.map((tag, k) => {
    const key = JSON.stringify(tag);
    return `${tag === '__proto__' ? `[${key}]` : key}: values[offset + ${k}]`;
  });
  build = new Function('values', 'offset', `return { ${fields.join(', ')} };`) as PerTagRecord;
  compiled.set(tags, build);
  return build;
}
