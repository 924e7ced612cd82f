import { describeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { ModelRegistry } from './model-registry.js';

/** What persistence needs from the LMDB store (ModelStore and AgentState fit). */
export interface PackageStore {
  put(key: string, bytes: Uint8Array): Promise<void>;
  get(key: string): Uint8Array | undefined;
  delete(key: string): Promise<boolean>;
  list(): Array<{ key: string; bytes: number }>;
}
export interface RolesStore {
  get<T>(key: string): T | undefined;
  put(key: string, value: unknown): Promise<void>;
}

interface Roles {
  [model: string]: { active: string | null; previous: string | null; shadow: string | null };
}

const ROLES_KEY = 'models:roles';

/**
 * Keeps the packages the registry refers to (active, pending, shadow, previous)
 * in the store, with each model's roles, so a restarted agent scores with the
 * same versions and can still roll back — even when the model folder was
 * emptied or the hub is unreachable.
 */
export class ModelPersistence {
  constructor(
    private readonly packages: PackageStore,
    private readonly roles: RolesStore,
    private readonly registry: ModelRegistry,
    private readonly log: Logger,
  ) {}

  /** A package the registry took (activated, pending or shadow): keep its bytes. */
  async remember(key: string, bytes: Uint8Array): Promise<void> {
    if (this.packages.get(key)) return;
    await this.packages.put(key, bytes);
  }

  /** Saves the roles and forgets packages no slot refers to any more. */
  async sync(): Promise<void> {
    const roles: Roles = {};
    for (const m of this.registry.snapshot()) roles[m.name] = { active: m.active, previous: m.previous, shadow: m.shadow };
    await this.roles.put(ROLES_KEY, roles);
    const referenced = this.registry.referencedKeys();
    for (const { key } of this.packages.list()) {
      if (referenced.has(key)) continue;
      try {
        await this.packages.delete(key);
      } catch (err) {
        this.log.warn({ model: key, err: describeError(err) }, 'could not remove an unused model package from the store');
      }
    }
  }

  /**
   * Packages to deploy at start, in an order that rebuilds the roles: the
   * previous version first (it activates at once), then the active one (it
   * takes over at the first window boundary, leaving the first as previous),
   * then the shadow.
   */
  restorePlan(): Array<{ key: string; bytes: Uint8Array; mode: 'activate' | 'shadow' }> {
    const roles = this.roles.get<Roles>(ROLES_KEY) ?? {};
    const plan: Array<{ key: string; bytes: Uint8Array; mode: 'activate' | 'shadow' }> = [];
    for (const [name, r] of Object.entries(roles)) {
      const add = (version: string | null, mode: 'activate' | 'shadow') => {
        if (!version) return;
        const key = `${name}@${version}`;
        const bytes = this.packages.get(key);
        if (bytes) plan.push({ key, bytes, mode });
        else this.log.warn({ model: key }, 'a model package the agent was using is missing from the store; it is not restored');
      };
      add(r.previous, 'activate');
      add(r.active, 'activate');
      add(r.shadow, 'shadow');
    }
    return plan;
  }
}
