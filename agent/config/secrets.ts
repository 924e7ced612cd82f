import { readFileSync } from 'node:fs';
import { VigilError } from '../../shared/errors.js';

export interface SecretRef {
  file?: string | undefined;
  env?: string | undefined;
}

/**
 * Reads a password or token from a file (first line, trimmed) or an environment
 * variable. Secrets are never written inline in configuration and never
 * logged; the error names where we looked, not what we found.
 */
export function readSecret(ref: SecretRef, what: string): string {
  if (ref.file) {
    let text: string;
    try {
      text = readFileSync(ref.file, 'utf8');
    } catch (cause) {
      throw new VigilError('VIGIL_SECRET_UNAVAILABLE', `cannot read the ${what} file ${ref.file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { cause });
    }
    const firstLine = text.split(/\r?\n/, 1)[0]?.trim() ?? '';
    if (!firstLine) throw new VigilError('VIGIL_SECRET_UNAVAILABLE', `the ${what} file ${ref.file} is empty`);
    return firstLine;
  }
  if (ref.env) {
    const value = process.env[ref.env];
    if (!value) throw new VigilError('VIGIL_SECRET_UNAVAILABLE', `the environment variable ${ref.env} (${what}) is not set or empty`);
    return value;
  }
  throw new VigilError('VIGIL_SECRET_UNAVAILABLE', `no ${what} configured: give a ...File or ...Env key`);
}
