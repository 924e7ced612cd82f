import { buildDigest } from '../digest/build-digest.js';
import type { HubStorage } from '../storage/hub-storage.js';
import type { ApiRoute } from './api-route.js';

/** The digest of episodes waiting for an answer: what the webhook gets on schedule, shown on the web app's start page. */
export function digestRoutes(deps: { storage: HubStorage; maxEpisodes: number }): ApiRoute[] {
  return [
    {
      method: 'GET',
      path: '/api/digest',
      access: 'viewer',
      handle: async () => ({ status: 200, json: await buildDigest(deps.storage, deps.maxEpisodes) }),
    },
  ];
}
