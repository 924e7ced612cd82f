import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { VigilError } from '../../shared/errors.js';

export interface ListeningServer {
  server: Server;
  /** e.g. https://127.0.0.1:8720 (the real port when 0 was asked for). */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** How long the hub keeps an idle HTTP keep-alive connection open. */
export const IDLE_KEEP_ALIVE_MS = 65_000;

/** Opens the hub's one port: HTTPS when a certificate and key are given, otherwise HTTP. */
export async function listenHub(
  options: { host: string; port: number; tls?: { certFile: string; keyFile: string } },
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<ListeningServer> {
  const server = options.tls ? createTlsServer(options.tls, handler) : createHttpServer(handler);
  // An idle keep-alive connection stays open longer than clients and load
  // balancers keep theirs (60 s is the usual balancer default): with Node's
  // 5 s, a client reusing a connection the hub has just closed gets "socket
  // hang up" / "other side closed" on a request that never reached the hub.
  server.keepAliveTimeout = IDLE_KEEP_ALIVE_MS;
  server.headersTimeout = IDLE_KEEP_ALIVE_MS + 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause: NodeJS.ErrnoException) => {
      const hint = cause.code === 'EADDRINUSE' ? `port ${options.port} is in use by another program; set http.port to a free port` : cause.message;
      reject(new VigilError('VIGIL_HTTP_LISTEN_FAILED', `the hub cannot listen on ${options.host}:${options.port}: ${hint}`, { cause }));
    });
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    port: address.port,
    url: `${options.tls ? 'https' : 'http'}://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function createTlsServer(tls: { certFile: string; keyFile: string }, handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
  try {
    return createHttpsServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, handler);
  } catch (cause) {
    throw new VigilError('VIGIL_HTTP_LISTEN_FAILED', `the TLS certificate ${tls.certFile} or key ${tls.keyFile} cannot be used: ${(cause as Error).message}`, { cause });
  }
}
