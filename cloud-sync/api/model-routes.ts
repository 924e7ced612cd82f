import { VigilError } from '../../shared/errors.js';
import type { HubRegistry } from '../registry/hub-registry.js';
import type { HubStorage, ModelVersionRecord } from '../storage/hub-storage.js';
import type { ApiRoute, Caller } from './api-route.js';

export interface ModelRoutesDeps {
  storage: HubStorage;
  registry: HubRegistry;
}

/** A version in a list: the record without its manifest (GET …/versions/:version has it). */
type VersionSummary = Omit<ModelVersionRecord, 'manifest' | 'signature'>;

/**
 * The model registry over HTTP: upload (admin), list and inspect (viewer), and
 * the package download agents fetch after a `deploy` notice (agent token, or
 * any API token), with the signature and sha256 in headers so the agent can
 * check the bytes before it reads them.
 */
export function modelRoutes(deps: ModelRoutesDeps): ApiRoute[] {
  const { storage, registry } = deps;
  const findVersion = async (name: string, version: string) => {
    const record = await storage.getModelVersion(name, version);
    if (!record) throw notFound(name, version);
    return record;
  };
  return [
    {
      method: 'POST',
      path: '/api/models',
      access: 'admin',
      handle: async (req) => {
        const bytes = await req.body();
        if (bytes.length === 0) throw new VigilError('VIGIL_API_BAD_REQUEST', 'body: empty; send the package file (*.vmodel) as the request body, content-type application/octet-stream');
        return { status: 201, json: await registry.upload(bytes, callerName(req.caller)) };
      },
    },
    {
      method: 'GET',
      path: '/api/models',
      access: 'viewer',
      handle: async () => ({ status: 200, json: { models: groupByModel(await storage.listModelVersions()) } }),
    },
    {
      method: 'GET',
      path: '/api/models/:name/versions',
      access: 'viewer',
      handle: async (req) => {
        const name = req.params.name ?? '';
        const versions = await storage.listModelVersions(name);
        if (versions.length === 0) throw new VigilError('VIGIL_API_NOT_FOUND', `there is no model ${name} in the registry`);
        return { status: 200, json: { name, versions: versions.map(summary) } };
      },
    },
    {
      method: 'GET',
      path: '/api/models/:name/versions/:version',
      access: 'viewer',
      handle: async (req) => ({ status: 200, json: await findVersion(req.params.name ?? '', req.params.version ?? '') }),
    },
    {
      method: 'GET',
      path: '/api/models/:name/versions/:version/scores/histogram',
      access: 'viewer',
      handle: async (req) => ({ status: 200, json: await storage.scoreHistogram(req.params.name ?? '', req.params.version ?? '') }),
    },
    {
      method: 'GET',
      path: '/api/models/:name/versions/:version/package',
      access: 'agent',
      handle: async (req) => {
        const name = req.params.name ?? '';
        const version = req.params.version ?? '';
        const record = await findVersion(name, version);
        const bytes = await storage.getPackage(name, version);
        if (!bytes) throw notFound(name, version);
        return {
          status: 200,
          body: bytes,
          headers: {
            'content-type': 'application/octet-stream',
            'content-disposition': `attachment; filename="${name}-${version}.vmodel"`,
            'x-vigil-signature': record.signature,
            'x-vigil-sha256': record.sha256,
          },
        };
      },
    },
  ];
}

/** Models with their versions, oldest upload first; `latest` is the newest upload. */
function groupByModel(records: readonly ModelVersionRecord[]): Array<{ name: string; description: string; latest: string; versions: VersionSummary[] }> {
  const byName = new Map<string, ModelVersionRecord[]>();
  for (const r of records) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  return [...byName.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, versions]) => {
      const latest = versions[versions.length - 1]!;
      return { name, description: latest.description, latest: latest.version, versions: versions.map(summary) };
    });
}

function summary(r: ModelVersionRecord): VersionSummary {
  return { name: r.name, version: r.version, description: r.description, sha256: r.sha256, size: r.size, uploadedAt: r.uploadedAt, uploadedBy: r.uploadedBy };
}

function notFound(name: string, version: string): VigilError {
  return new VigilError('VIGIL_API_NOT_FOUND', `model ${name} version ${version} is not in the registry`, { details: { model: name, version } });
}

function callerName(caller: Caller): string {
  return caller.kind === 'agent' ? `agent:${caller.id}` : caller.name;
}
