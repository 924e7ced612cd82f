import type { Role } from '../api/api-route.js';
import { issueApiToken } from '../auth/api-token-issue.js';
import { isoTime, table, withHubStorage, type Print } from './with-hub-storage.js';

/** `vigil hub tokens add <name> [--role …]`: an API token for the command line, printed once. */
export function runTokensAdd(name: string, role: Role, configFile: string, out: Print): Promise<number> {
  return withHubStorage('hub tokens add', configFile, async (storage) => {
    const { record, token } = await issueApiToken(storage, name, role);
    out(`API token ${record.id} for ${name} (role ${role}):`);
    out('');
    out(`  ${token}`);
    out('');
    out('This token is shown once and is not stored on the hub (only a salted hash is). Keep it in a file readable only by you and pass it with --token-file, or set VIGIL_HUB_TOKEN.');
    return 0;
  });
}

export function runTokensList(configFile: string, out: Print): Promise<number> {
  return withHubStorage('hub tokens list', configFile, async (storage) => {
    const tokens = await storage.listApiTokens();
    if (tokens.length === 0) {
      out('No API tokens yet: add one with `vigil hub tokens add <name> --role admin --config <hub.yaml>`.');
      return 0;
    }
    out(table(['ID', 'NAME', 'ROLE', 'CREATED', 'REVOKED'], tokens.map((t) => [t.id, t.name, t.role, isoTime(t.createdAt), isoTime(t.revokedAt)])));
    return 0;
  });
}

export function runTokensRevoke(id: string, configFile: string, out: Print): Promise<number> {
  return withHubStorage('hub tokens revoke', configFile, async (storage) => {
    if (!(await storage.revokeApiToken(id, Date.now()))) {
      process.stderr.write(`vigil hub tokens revoke: there is no API token ${id} (see \`vigil hub tokens list\`)\n`);
      return 1;
    }
    out(`API token ${id} revoked; requests with it are refused from now on.`);
    return 0;
  });
}
