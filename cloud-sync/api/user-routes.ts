import { z } from 'zod';
import { VigilError } from '../../shared/errors.js';
import type { HubStorage } from '../storage/hub-storage.js';
import { changeUser, createUser, removeUser, userView } from '../users/user-accounts.js';
import type { ApiRoute } from './api-route.js';
import { validateInput } from './validate-input.js';

const RoleSchema = z.enum(['viewer', 'operator', 'admin']);

const CreateUserSchema = z.strictObject({
  name: z.string().min(1),
  role: RoleSchema,
  password: z.string(),
});

const ChangeUserSchema = z
  .strictObject({
    role: RoleSchema.optional(),
    password: z.string().optional(),
    disabled: z.boolean().optional(),
  })
  .refine((c) => c.role !== undefined || c.password !== undefined || c.disabled !== undefined, { message: 'give role, password and/or disabled' });

/** Who am I (any person or token), and the web app's users (admin). */
export function userRoutes(deps: { storage: HubStorage }): ApiRoute[] {
  const { storage } = deps;
  return [
    {
      method: 'GET',
      path: '/api/me',
      access: 'viewer',
      handle: async (req) => {
        // access 'viewer' keeps agents out, so the caller has a name and a role.
        if (req.caller.kind === 'agent') throw new VigilError('VIGIL_API_FORBIDDEN', 'agents have no account');
        return { status: 200, json: { name: req.caller.name, role: req.caller.role, kind: req.caller.kind } };
      },
    },
    {
      method: 'GET',
      path: '/api/users',
      access: 'admin',
      handle: async () => ({ status: 200, json: { users: (await storage.listUsers()).map(userView) } }),
    },
    {
      method: 'POST',
      path: '/api/users',
      access: 'admin',
      handle: async (req) => {
        const body = validateInput(CreateUserSchema, await req.json(), 'body');
        const user = await createUser(storage, body.name, body.role, body.password);
        return { status: 201, json: userView(user) };
      },
    },
    {
      method: 'PUT',
      path: '/api/users/:name',
      access: 'admin',
      handle: async (req) => {
        const change = validateInput(ChangeUserSchema, await req.json(), 'body');
        const user = await changeUser(storage, req.params.name ?? '', change);
        return { status: 200, json: userView(user) };
      },
    },
    {
      method: 'DELETE',
      path: '/api/users/:name',
      access: 'admin',
      handle: async (req) => {
        await removeUser(storage, req.params.name ?? '');
        return { status: 200, json: { deleted: req.params.name } };
      },
    },
  ];
}
