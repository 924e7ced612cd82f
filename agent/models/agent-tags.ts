import { templatePattern } from '../tags/tag-table.js';

const PLACEHOLDER = /\{[^}]+\}/;

/**
 * The model's tags that an agent configuration provides: tags configured by
 * name, and names an MQTT name template produces (`line1.{2}.temp` produces
 * `line1.pump3.temp`). `configured` are the configuration's tag names,
 * templates included. Model tags that are not in the result are the ones the
 * model would wait for in vain.
 */
export function tagsKnownTo(configured: readonly string[], modelTags: readonly string[]): Set<string> {
  const known = new Set(configured.filter((n) => !PLACEHOLDER.test(n)));
  const templates = configured.filter((n) => PLACEHOLDER.test(n)).map(templatePattern);
  const result = new Set<string>();
  for (const tag of modelTags) if (known.has(tag) || templates.some((p) => p.test(tag))) result.add(tag);
  return result;
}
