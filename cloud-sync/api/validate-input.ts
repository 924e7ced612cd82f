import type { z } from 'zod';
import { VigilError } from '../../shared/errors.js';

/**
 * Validates a request body or query with zod; a failure is a 400 naming the
 * field: `label: expected one of real, normal, unsure`.
 */
export function validateInput<T>(schema: z.ZodType<T>, value: unknown, where: 'body' | 'query' | 'path'): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const messages = parsed.error.issues.slice(0, 5).map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : where;
    const unknownKeys = issue.code === 'unrecognized_keys' ? `unknown field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.join(', ')}` : undefined;
    return `${path}: ${unknownKeys ?? issue.message}`;
  });
  throw new VigilError('VIGIL_API_BAD_REQUEST', messages.join('; '));
}
