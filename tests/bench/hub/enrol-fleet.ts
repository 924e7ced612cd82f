import { enrolAgent } from '../../../cloud-sync/auth/agent-enrolment.js';
import { issueApiToken } from '../../../cloud-sync/auth/api-token-issue.js';
import { loadHubConfig } from '../../../cloud-sync/config/load-hub-config.js';
import { openHubStorage } from '../../../cloud-sync/config/open-hub-storage.js';
import { loadHubSigningKey } from '../../../cloud-sync/registry/shared-signing-key.js';

export interface EnrolledFleet {
  agents: Array<{ id: string; token: string }>;
  adminToken: string;
  publicKeyPem: string;
}

/**
 * Prepares a set-up's storage before any replica starts, the way the
 * command line would (same enrolment and token functions, same hub.yaml),
 * without 1,000 `vigil hub agents add` processes: `count` agents labelled
 * bench=1, an admin API token, and the signing key the replicas will use
 * (created now the way a replica creates it: LMDB in the dataDir, PostgreSQL
 * in the shared database), whose public key the simulated agents check
 * packages with.
 */
export async function enrolFleet(configFile: string, count: number): Promise<EnrolledFleet> {
  const config = await loadHubConfig(configFile);
  // Every replica of a set-up shares the storage: one replica's configuration is enough.
  const storage = await openHubStorage(config);
  try {
    const key = await loadHubSigningKey(storage, config.hub.dataDir);
    const agents: EnrolledFleet['agents'] = [];
    const chunk = 50;
    for (let i = 0; i < count; i += chunk) {
      const ids = Array.from({ length: Math.min(chunk, count - i) }, (_, k) => `sim-${String(i + k).padStart(4, '0')}`);
      const issued = await Promise.all(ids.map((id) => enrolAgent(storage, id, { bench: '1' })));
      agents.push(...issued.map((t) => ({ id: t.agent.id, token: t.token })));
    }
    const { token: adminToken } = await issueApiToken(storage, 'bench-hub', 'admin');
    return { agents, adminToken, publicKeyPem: key.publicKeyPem };
  } finally {
    await storage.close();
  }
}
