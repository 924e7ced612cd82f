import type { Deploy } from '../../shared/sync-protocol.js';
import type { ModelVersionRecord } from '../storage/hub-storage.js';

/** Where agents download a package (the model routes serve it; access `agent`). */
export function packageUrl(name: string, version: string): string {
  return `/api/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/package`;
}

/** The `deploy` notice for one version: everything the agent needs to fetch and verify the package before reading it. */
export function deployMessage(deployment: string, record: ModelVersionRecord, mode: Deploy['mode'], rollback: boolean): Deploy {
  return {
    type: 'deploy',
    deployment,
    model: record.name,
    version: record.version,
    mode,
    rollback,
    sha256: record.sha256,
    signature: record.signature,
    url: packageUrl(record.name, record.version),
    size: record.size,
  };
}
