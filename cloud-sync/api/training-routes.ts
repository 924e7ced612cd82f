import { z } from 'zod';
import { VigilError } from '../../shared/errors.js';
import type { HubRegistry } from '../registry/hub-registry.js';
import type { HubStorage } from '../storage/hub-storage.js';
import { retrainFromAnswers } from '../training/hub-training.js';
import type { ApiRoute } from './api-route.js';
import { validateInput } from './validate-input.js';

export interface TrainingRoutesDeps {
  storage: HubStorage;
  registry: HubRegistry;
}

const RetrainBodySchema = z.strictObject({
  version: z.string().min(1).optional().describe("The new version; default the parent's next free patch version."),
});

/**
 * Training on the hub: retrain a registered version from the episodes
 * answered as normal operation (admin: it registers a new version). The
 * response is the new version record, what it learned from, and the alarm
 * windows of parent and candidate on the answered stretches.
 */
export function trainingRoutes(deps: TrainingRoutesDeps): ApiRoute[] {
  return [
    {
      method: 'POST',
      path: '/api/models/:name/versions/:version/retrain',
      access: 'admin',
      handle: async (req) => {
        const body = (await req.body()).length === 0 ? {} : validateInput(RetrainBodySchema, await req.json(), 'body');
        const by = req.caller.kind === 'agent' ? `agent:${req.caller.id}` : req.caller.name;
        try {
          const result = await retrainFromAnswers(deps.storage, deps.registry, { model: req.params.name ?? '', version: req.params.version ?? '', by, ...(body.version ? { newVersion: body.version } : {}) });
          return { status: 201, json: result };
        } catch (err) {
          throw asBadRequest(err);
        }
      },
    },
  ];
}

/** The trainer's refusals (not enough data, a bad version) are the caller's to fix: 400 with the trainer's message, not 500. */
const CALLER_FIXABLE = new Set(['VIGIL_TRAINING_DATA_INVALID', 'VIGIL_MODEL_PACKAGE_INVALID', 'VIGIL_CONFIG_INVALID']);

function asBadRequest(err: unknown): unknown {
  if (!(err instanceof VigilError) || !CALLER_FIXABLE.has(err.code)) return err;
  return new VigilError('VIGIL_API_BAD_REQUEST', err.message, { cause: err, details: { refusal: err.code } });
}
