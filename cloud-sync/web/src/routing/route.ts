/**
 * Client-side routes live in the URL hash (`#/episodes/<id>`), so the hub
 * serves one index.html and needs no routing of its own.
 */
export type Route =
  | { page: 'login' }
  | { page: 'episodes' }
  | { page: 'episode'; id: string }
  | { page: 'fleet' }
  | { page: 'models' }
  | { page: 'admin' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/');
  switch (parts[0]) {
    case 'login':
      return { page: 'login' };
    case 'episodes':
      return parts[1] ? { page: 'episode', id: decodeURIComponent(parts.slice(1).join('/')) } : { page: 'episodes' };
    case 'fleet':
      return { page: 'fleet' };
    case 'models':
      return { page: 'models' };
    case 'admin':
      return { page: 'admin' };
    default:
      return { page: 'episodes' };
  }
}

/** Episode ids contain `:` (`<agent>:<model>:<start>`): encoded as one hash segment. */
export function episodeHref(id: string): string {
  return `#/episodes/${encodeURIComponent(id)}`;
}

export function navigate(hash: string): void {
  if (location.hash !== hash) location.hash = hash;
}
