/**
 * `record` with the patch's fields applied. Fields set to `undefined` are left
 * alone (callers build patches with optional fields); `null` is a value and is
 * written.
 */
export function mergePatch<T extends object>(record: T, patch: NoInfer<Partial<T>>): T {
  const next = { ...record };
  for (const [key, value] of Object.entries(patch) as Array<[keyof T, T[keyof T] | undefined]>) {
    if (value !== undefined) next[key] = value;
  }
  return next;
}
