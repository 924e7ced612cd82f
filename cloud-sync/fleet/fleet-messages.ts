import { z } from 'zod';

/**
 * What hub replicas tell each other through their shared storage
 * (PostgreSQL NOTIFY; within the process on LMDB). Small on purpose
 * (≤ FLEET_MESSAGE_MAX_BYTES): ids and short notices, never bulk data —
 * that goes through storage and the message says where.
 */

const Agent = z.string().min(1);
const Replica = z.string().min(1);

export const FleetMessageSchema = z.discriminatedUnion('type', [
  /** An agent finished its hello on `replica` at `at` (hub clock, ms): others drop an older connection of it. */
  z.object({ type: z.literal('agent-connected'), agent: Agent, replica: Replica, at: z.number() }),
  /** A replica starting: one already running with the same id answers with replica-conflict. */
  z.object({ type: z.literal('replica-hello'), replica: Replica, instance: z.string().min(1) }),
  /** `replica` (this id) is already running as another process, on `host`. */
  z.object({ type: z.literal('replica-conflict'), replica: Replica, instance: z.string().min(1), host: z.string() }),
  /** An agent's connection to `replica` ended. */
  z.object({ type: z.literal('agent-disconnected'), agent: Agent, replica: Replica }),
  /** Deliver this hub message (a deploy notice) to the agent if it is connected to `replica`. */
  z.object({ type: z.literal('to-agent'), agent: Agent, replica: Replica, message: z.record(z.string(), z.unknown()) }),
  /** Close the agent's connection wherever it is (its token was revoked or replaced). */
  z.object({ type: z.literal('disconnect-agent'), agent: Agent, code: z.number().int(), reason: z.string() }),
  /** `origin` asks `replica` (where the agent is) to fetch its raw history; the answer is left in storage meta `key`. */
  z.object({
    type: z.literal('history-fetch'),
    request: z.string().min(1),
    origin: Replica,
    replica: Replica,
    agent: Agent,
    key: z.string().min(1),
    what: z.object({ tags: z.array(z.string()), from: z.number(), to: z.number(), maxSamples: z.number() }),
  }),
  /** The answer to a history-fetch: in storage meta under its key, or an error. */
  z.object({ type: z.literal('history-done'), request: z.string().min(1), origin: Replica, error: z.object({ code: z.string(), message: z.string() }).nullable() }),
]);

export type FleetMessage = z.infer<typeof FleetMessageSchema>;
