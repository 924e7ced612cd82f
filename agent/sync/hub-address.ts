import { SYNC_PATH } from '../../shared/sync-protocol.js';

/**
 * Where the agent reaches the hub. `hub.url` (or each replica in `hub.urls`)
 * is a hub's address (ws://host:port or wss://host:port, optionally under a
 * path prefix when a reverse proxy serves it there); the websocket endpoint is
 * `<url>/sync` and HTTP downloads go to the same host over http(s) — one port,
 * one TLS setup.
 */
export interface HubAddress {
  /** The websocket endpoint, e.g. wss://hub.plant.local:8720/sync. */
  syncUrl: string;
  /** The hub's HTTP base, e.g. https://hub.plant.local:8720 (no trailing slash). */
  httpBase: string;
}

export function hubAddress(url: string): HubAddress {
  const parsed = new URL(url);
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new RangeError(`the hub URL must start with ws:// or wss://, not ${parsed.protocol}//`);
  const base = `${parsed.host}${parsed.pathname.replace(/\/+$/, '')}`;
  return {
    syncUrl: `${parsed.protocol}//${base}${SYNC_PATH}`,
    httpBase: `${parsed.protocol === 'wss:' ? 'https:' : 'http:'}//${base}`,
  };
}

/**
 * The download URL of a package the hub announced. Only a path on the hub is
 * accepted: the request carries the agent's token, which must never go to
 * another host, whatever a deploy message says.
 */
export function packageUrl(address: HubAddress, path: string): string {
  if (!path.startsWith('/') || path.startsWith('//')) throw new RangeError(`the package URL "${path.slice(0, 200)}" is not a path on the hub (it must start with one /)`);
  return `${address.httpBase}${path}`;
}
