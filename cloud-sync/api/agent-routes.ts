import { z } from 'zod';
import { VigilError } from '../../shared/errors.js';
import { CLOSE_CODES } from '../../shared/sync-protocol.js';
import { agentTokenAdvice, enrolAgent, renewAgentToken } from '../auth/agent-enrolment.js';
import type { HubStorage } from '../storage/hub-storage.js';
import type { ApiRoute } from './api-route.js';
import { agentView } from './agent-view.js';
import { validateInput } from './validate-input.js';

export interface AgentRoutesDeps {
  storage: HubStorage;
  maxSkewMs: number;
  /** An agent connected but not heard from for this long shows offline (sync.offlineAfterMs). */
  offlineAfterMs?: number;
  /** Closes the agent's live connection, on whichever replica it is (revoked, new token). */
  disconnect: (agent: string, code: number, reason: string) => void;
}

const CreateAgentSchema = z.strictObject({
  id: z.string().min(1),
  labels: z.record(z.string(), z.string()).default({}),
});

/** Agents: who exists, who is online, their health; creating them and their tokens. */
export function agentRoutes(deps: AgentRoutesDeps): ApiRoute[] {
  const { storage, maxSkewMs, offlineAfterMs } = deps;
  const find = async (id: string) => {
    const agent = await storage.getAgent(id);
    if (!agent) throw new VigilError('VIGIL_API_NOT_FOUND', `there is no agent ${id}`);
    return agent;
  };
  return [
    {
      method: 'GET',
      path: '/api/agents',
      access: 'viewer',
      handle: async () => {
        const agents = await storage.listAgents();
        return { status: 200, json: { agents: agents.map((a) => agentView(a, maxSkewMs, offlineAfterMs)) } };
      },
    },
    {
      method: 'GET',
      path: '/api/agents/:id',
      access: 'viewer',
      handle: async (req) => ({ status: 200, json: agentView(await find(req.params.id ?? ''), maxSkewMs, offlineAfterMs) }),
    },
    {
      method: 'POST',
      path: '/api/agents',
      access: 'admin',
      handle: async (req) => {
        const body = validateInput(CreateAgentSchema, await req.json(), 'body');
        const issued = await enrolAgent(storage, body.id, body.labels);
        return { status: 201, json: { agent: agentView(issued.agent, maxSkewMs, offlineAfterMs), token: issued.token, note: agentTokenAdvice(body.id) } };
      },
    },
    {
      method: 'POST',
      path: '/api/agents/:id/revoke',
      access: 'admin',
      handle: async (req) => {
        const id = req.params.id ?? '';
        if (!(await storage.revokeAgent(id, Date.now()))) throw new VigilError('VIGIL_API_NOT_FOUND', `there is no agent ${id}`);
        deps.disconnect(id, CLOSE_CODES.REVOKED, 'the agent token was revoked');
        return { status: 200, json: agentView(await find(id), maxSkewMs, offlineAfterMs) };
      },
    },
    {
      method: 'POST',
      path: '/api/agents/:id/token',
      access: 'admin',
      handle: async (req) => {
        const id = req.params.id ?? '';
        const issued = await renewAgentToken(storage, id);
        // The connection was opened with the old token, which no longer works.
        deps.disconnect(id, CLOSE_CODES.REVOKED, 'the agent token was replaced');
        return { status: 200, json: { agent: agentView(issued.agent, maxSkewMs, offlineAfterMs), token: issued.token, note: agentTokenAdvice(id) } };
      },
    },
  ];
}
