import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';

export interface FetchPackageOptions {
  url: string;
  headers: Record<string, string>;
  /** Extra CA (PEM) for https with a private CA. */
  ca?: Buffer;
  /** The size the hub announced; more bytes than this are not read. */
  expectedSize: number;
  timeoutMs: number;
  signal?: AbortSignal;
}

export type FetchedPackage =
  | { ok: true; bytes: Buffer }
  /** `retry`: a network problem or a server error that may pass; else the answer will not change. */
  | { ok: false; reason: string; retry: boolean };

/**
 * Downloads a package from the hub with the agent's credentials. node:http(s)
 * rather than global fetch: one code path for http, https and https with the
 * configured private CA (fetch cannot take a CA without an extra dependency),
 * and the body is counted while it arrives so a package larger than announced
 * is cut off instead of filling memory.
 */
export function fetchPackage(o: FetchPackageOptions): Promise<FetchedPackage> {
  return new Promise((resolve) => {
    const https = o.url.startsWith('https:');
    let settled = false;
    const done = (result: FetchedPackage) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      request.destroy();
      resolve(result);
    };
    const onResponse = (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < 2000) body += chunk;
        });
        res.once('end', () => done({ ok: false, reason: `the hub answered HTTP ${status}${body.trim() ? `: ${body.trim().slice(0, 300)}` : ''}`, retry: status >= 500 || status === 429 }));
        return;
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared !== o.expectedSize) {
        done({ ok: false, reason: `the package is ${declared} bytes, the hub announced ${o.expectedSize}`, retry: false });
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > o.expectedSize) done({ ok: false, reason: `the package is larger than the ${o.expectedSize} bytes the hub announced`, retry: false });
        else chunks.push(chunk);
      });
      res.once('end', () => {
        if (received !== o.expectedSize) done({ ok: false, reason: `the package is ${received} bytes, the hub announced ${o.expectedSize}`, retry: false });
        else done({ ok: true, bytes: Buffer.concat(chunks, received) });
      });
      res.once('error', (err) => done({ ok: false, reason: `the download broke off: ${err.message}`, retry: true }));
    };
    const request = https ? httpsGet(o.url, { headers: o.headers, ...(o.ca ? { ca: o.ca } : {}) }, onResponse) : httpGet(o.url, { headers: o.headers }, onResponse);
    request.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, reason: `cannot download from the hub: ${err.code ?? ''}${err.code ? ' ' : ''}${err.message}`, retry: true }));
    const timer = setTimeout(() => done({ ok: false, reason: `the download took longer than ${Math.round(o.timeoutMs / 1000)} s`, retry: true }), o.timeoutMs);
    const onAbort = () => done({ ok: false, reason: 'the agent is stopping', retry: false });
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
