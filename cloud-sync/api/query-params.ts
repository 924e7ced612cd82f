import { z } from 'zod';

/** Query parameters as zod sees them: a plain object of the first value of each name. */
export function queryObject(query: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of query) if (!(key in out)) out[key] = value;
  return out;
}

/** A time in a query: ms since 1970, or an ISO date such as 2025-03-01T08:00:00Z. */
export const timeParam = z.string().transform((text, ctx) => {
  const ms = /^-?\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: `expected ms since 1970 or an ISO date, found "${text}"` });
    return z.NEVER;
  }
  return ms;
});

export const limitParam = (dflt: number, max: number) => z.coerce.number().int().min(1).max(max).default(dflt);
