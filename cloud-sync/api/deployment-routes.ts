import { z } from 'zod';
import { VigilError } from '../../shared/errors.js';
import { DEPLOYMENT_STATUSES, type DeploymentStatus } from '../../shared/sync-protocol.js';
import { DeployRequestSchema } from '../deployments/deploy-request.js';
import type { Deployer, DeploymentView } from '../deployments/deployer.js';
import type { DeploymentRecord, HubStorage } from '../storage/hub-storage.js';
import type { ApiRoute, Caller } from './api-route.js';
import { limitParam, queryObject } from './query-params.js';
import { compareShadowDeployment } from './shadow-comparison.js';
import { validateInput } from './validate-input.js';

export interface DeploymentRoutesDeps {
  storage: HubStorage;
  deployer: Deployer;
}

const ListQuerySchema = z.strictObject({
  model: z.string().min(1).optional(),
  agent: z.string().min(1).optional(),
  limit: limitParam(50, 1000),
});

const RollbackBodySchema = z.strictObject({
  reason: z.string().min(1).max(1000).optional(),
});

/** A deployment in a list: how many of its agents are at each status. */
type DeploymentSummary = DeploymentRecord & { counts: Partial<Record<DeploymentStatus, number>>; agents: number };

/**
 * Deployments over HTTP: start one and roll one back (admin), list them,
 * follow one agent by agent and compare a shadow candidate with the active
 * version on the same windows (viewer). Starting and rolling back answer with the
 * deployment and its targets, so the caller sees at once who was chosen and
 * who has no previous version to return to.
 */
export function deploymentRoutes(deps: DeploymentRoutesDeps): ApiRoute[] {
  const { storage, deployer } = deps;
  const view = async (id: string): Promise<DeploymentView> => {
    const found = await deployer.view(id);
    if (!found) throw new VigilError('VIGIL_API_NOT_FOUND', `there is no deployment ${id}`, { details: { deployment: id } });
    return found;
  };
  return [
    {
      method: 'POST',
      path: '/api/deployments',
      access: 'admin',
      handle: async (req) => {
        const request = validateInput(DeployRequestSchema, await req.json(), 'body');
        const deployment = await deployer.deploy(request, callerName(req.caller));
        return { status: 201, json: await view(deployment.id) };
      },
    },
    {
      method: 'GET',
      path: '/api/deployments',
      access: 'viewer',
      handle: async (req) => {
        const query = validateInput(ListQuerySchema, queryObject(req.query), 'query');
        const deployments = await storage.listDeployments(query);
        return { status: 200, json: { deployments: await Promise.all(deployments.map((d) => summarise(storage, d))) } };
      },
    },
    {
      method: 'GET',
      path: '/api/deployments/:id',
      access: 'viewer',
      handle: async (req) => ({ status: 200, json: await view(req.params.id ?? '') }),
    },
    {
      method: 'GET',
      path: '/api/deployments/:id/comparison',
      access: 'viewer',
      handle: async (req) => {
        const id = req.params.id ?? '';
        const deployment = await storage.getDeployment(id);
        if (!deployment) throw new VigilError('VIGIL_API_NOT_FOUND', `there is no deployment ${id}`, { details: { deployment: id } });
        return { status: 200, json: await compareShadowDeployment(storage, deployment) };
      },
    },
    {
      method: 'POST',
      path: '/api/deployments/:id/rollback',
      access: 'admin',
      handle: async (req) => {
        // The body is optional: a bare POST rolls back without a stated reason.
        const reason = (await req.body()).length === 0 ? undefined : validateInput(RollbackBodySchema, await req.json(), 'body').reason;
        const rollback = await deployer.rollback(req.params.id ?? '', callerName(req.caller), reason);
        return { status: 201, json: await view(rollback.id) };
      },
    },
  ];
}

async function summarise(storage: HubStorage, deployment: DeploymentRecord): Promise<DeploymentSummary> {
  const targets = await storage.listTargets(deployment.id);
  const counts: Partial<Record<DeploymentStatus, number>> = {};
  for (const status of DEPLOYMENT_STATUSES) {
    const n = targets.filter((t) => t.status === status).length;
    if (n > 0) counts[status] = n;
  }
  return { ...deployment, agents: targets.length, counts };
}

function callerName(caller: Caller): string {
  return caller.kind === 'agent' ? `agent:${caller.id}` : caller.name;
}
