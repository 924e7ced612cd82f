import { z } from 'zod';
import type { HubStorage } from '../storage/hub-storage.js';
import type { ApiRoute } from './api-route.js';
import { validateInput } from './validate-input.js';

/** Storage meta key of the list. */
export const CAUSES_META_KEY = 'web:causes';

const CausesSchema = z.strictObject({
  // Same bound as a resolution's cause (episode-routes.ts), so every listed cause can be picked.
  causes: z.array(z.string().trim().min(1).max(500)).max(500),
});

/**
 * The causes people pick from when they call an episode a real problem,
 * maintained by admins. Anyone may read them; a resolution may still carry a
 * typed cause that is not in the list.
 */
export function causeRoutes(deps: { storage: HubStorage }): ApiRoute[] {
  const { storage } = deps;
  return [
    {
      method: 'GET',
      path: '/api/causes',
      access: 'viewer',
      handle: async () => ({ status: 200, json: { causes: (await storage.getMeta<string[]>(CAUSES_META_KEY)) ?? [] } }),
    },
    {
      method: 'PUT',
      path: '/api/causes',
      access: 'admin',
      handle: async (req) => {
        const { causes } = validateInput(CausesSchema, await req.json(), 'body');
        // Order is the admin's (most common first, say); repeats are dropped.
        const unique = [...new Set(causes)];
        await storage.setMeta(CAUSES_META_KEY, unique);
        return { status: 200, json: { causes: unique } };
      },
    },
  ];
}
