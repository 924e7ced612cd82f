import type { ApiRoute } from '../api/api-route.js';
import { VigilError } from '../../shared/errors.js';
import { methodNotAllowed } from './api-error.js';

interface CompiledRoute {
  route: ApiRoute;
  /** A literal segment, or a parameter name. */
  segments: Array<{ literal: string } | { param: string }>;
  literals: number;
}

export interface RouteMatch {
  route: ApiRoute;
  params: Record<string, string>;
}

/**
 * Matches request paths against the routes every room of the hub declares.
 * When several routes match (`/api/models/performance` and
 * `/api/models/:name`), the one with more literal segments wins, so the order
 * the rooms are listed in does not matter.
 */
export class RouteTable {
  private readonly routes: CompiledRoute[];

  constructor(routes: readonly ApiRoute[]) {
    this.routes = routes.map((route) => {
      const segments = split(route.path).map((s) => (s.startsWith(':') ? { param: s.slice(1) } : { literal: s }));
      return { route, segments, literals: segments.filter((s) => 'literal' in s).length };
    });
    const seen = new Set<string>();
    for (const r of this.routes) {
      const key = `${r.route.method} ${r.segments.map((s) => ('literal' in s ? s.literal : ':')).join('/')}`;
      if (seen.has(key)) throw new Error(`two API routes declare ${r.route.method} ${r.route.path}`);
      seen.add(key);
    }
  }

  /** The matching route, undefined when no route has this path; throws 405 when only the method differs. */
  match(method: string, path: string): RouteMatch | undefined {
    const parts = split(path);
    let best: { compiled: CompiledRoute; params: Record<string, string> } | undefined;
    let pathMatched = false;
    for (const compiled of this.routes) {
      const params = matchSegments(compiled.segments, parts);
      if (!params) continue;
      pathMatched = true;
      if (compiled.route.method !== method) continue;
      if (!best || compiled.literals > best.compiled.literals) best = { compiled, params };
    }
    if (best) return { route: best.compiled.route, params: best.params };
    if (pathMatched) throw methodNotAllowed(`${method} is not supported on ${path}`);
    return undefined;
  }
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

function matchSegments(segments: CompiledRoute['segments'], parts: string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, segment] of segments.entries()) {
    const part = parts[i] as string;
    if ('literal' in segment) {
      if (segment.literal !== part) return undefined;
    } else {
      params[segment.param] = decode(part);
    }
  }
  return params;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new VigilError('VIGIL_API_BAD_REQUEST', `the path segment "${part}" is not valid percent-encoding`);
  }
}
