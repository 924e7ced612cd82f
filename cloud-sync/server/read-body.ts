import type { IncomingMessage } from 'node:http';
import { VigilError } from '../../shared/errors.js';
import { payloadTooLarge } from './api-error.js';

/**
 * Reads a request body, refusing (413) beyond `maxBytes`. The refused rest is
 * read and thrown away rather than the connection cut: HTTP clients such as
 * fetch report a cut connection as a network failure and never show the 413.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      req.resume();
      reject(tooLarge(maxBytes));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      chunks.length = 0;
      req.resume();
      reject(tooLarge(maxBytes));
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', (err) => reject(new VigilError('VIGIL_API_BAD_REQUEST', `the request body could not be read: ${err.message}`, { cause: err })));
  });
}

export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw new VigilError('VIGIL_API_BAD_REQUEST', 'the request body is empty; expected JSON');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new VigilError('VIGIL_API_BAD_REQUEST', `the request body is not JSON: ${(err as Error).message}`);
  }
}

function tooLarge(maxBytes: number) {
  return payloadTooLarge(`the request body is larger than http.maxBodyBytes (${maxBytes} bytes)`);
}
