import type { ModelVersions } from '../../shared/sync-protocol.js';
import type { ModelSnapshot } from '../models/model-registry.js';

/** The registry's versions per model as hello and heartbeat report them (a pending switch shows once it happened). */
export function modelVersions(snapshot: readonly ModelSnapshot[]): ModelVersions[] {
  return snapshot.map((m) => ({ name: m.name, active: m.active, shadow: m.shadow, previous: m.previous, state: m.state }));
}
