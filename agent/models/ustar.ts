/**
 * The few lines of POSIX ustar a model package needs: a handful of regular
 * files, written and read whole from memory. A package is a plain tar so that
 * an admin can look inside with `tar -tvf pump-1.2.0.vmodel`; the reader is
 * strict (header checksums, sizes, end marker) because a package is untrusted
 * input and a half-copied file must be refused, not half-read. Reading is
 * synchronous from a Buffer: packages also arrive over the hub's websocket.
 */

const BLOCK = 512;

export interface TarEntry {
  name: string;
  data: Uint8Array;
}

/** Why bytes are not a readable archive; package-file.ts turns it into a VigilError. */
export class TarFormatError extends Error {
  override readonly name = 'TarFormatError';
}

/**
 * A ustar archive of `entries`, in order. Owner, mode and mtime are fixed, so
 * the same inputs always give the same bytes (a package's hash is reproducible).
 */
export function writeUstar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const nameBytes = Buffer.from(entry.name, 'utf8');
    if (nameBytes.length === 0 || nameBytes.length > 100) throw new TarFormatError(`file name "${entry.name}" must be 1 to 100 bytes long`);
    const header = Buffer.alloc(BLOCK);
    nameBytes.copy(header, 0);
    writeOctal(header, 100, 8, 0o644);
    writeOctal(header, 108, 8, 0);
    writeOctal(header, 116, 8, 0);
    writeOctal(header, 124, 12, entry.data.length);
    writeOctal(header, 136, 12, 0);
    header.write('0', 156, 'ascii');
    header.write('ustar\u000000', 257, 'ascii');
    header.write('vigil', 265, 'ascii');
    header.write('vigil', 297, 'ascii');
    // The checksum is computed with its own field read as eight spaces.
    header.fill(0x20, 148, 156);
    const sum = headerSum(header);
    header.write(sum.toString(8).padStart(6, '0') + '\u0000 ', 148, 'ascii');
    parts.push(header, Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength));
    const pad = (BLOCK - (entry.data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

/**
 * The regular files of a ustar archive, in archive order. Throws TarFormatError
 * naming what is wrong: not a tar at all, a damaged header, a file cut short,
 * an entry that is not a regular file, or a missing end-of-archive marker.
 */
export function readUstar(bytes: Uint8Array): TarEntry[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length === 0) throw new TarFormatError('the file is empty');
  if (buf.length < BLOCK || !hasUstarMagic(buf, 0)) throw new TarFormatError('it is not a tar archive (no ustar header at the start)');
  const entries: TarEntry[] = [];
  let offset = 0;
  for (;;) {
    if (offset + BLOCK > buf.length) throw new TarFormatError(`it is cut short after ${buf.length} bytes (no end-of-archive marker)`);
    const header = buf.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) return entries;
    if (!hasUstarMagic(buf, offset)) throw new TarFormatError(`the header at byte ${offset} is damaged (no ustar magic)`);
    const stored = parseOctal(header, 148, 8);
    if (stored === undefined || stored !== headerSum(header, true)) throw new TarFormatError(`the header at byte ${offset} is damaged (checksum mismatch)`);
    const name = entryName(header);
    const type = String.fromCharCode(header[156] ?? 0);
    if (type !== '0' && type !== '\u0000') throw new TarFormatError(`"${name}" is not a regular file (tar entry type "${type}")`);
    const size = parseOctal(header, 124, 12);
    if (size === undefined) throw new TarFormatError(`the size of "${name}" is unreadable`);
    const start = offset + BLOCK;
    if (start + size > buf.length) throw new TarFormatError(`"${name}" is cut short: ${buf.length - start} of ${size} bytes present`);
    entries.push({ name, data: new Uint8Array(buf.subarray(start, start + size)) });
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
  }
}

function hasUstarMagic(buf: Buffer, offset: number): boolean {
  // POSIX writes "ustar\0"; GNU tar writes "ustar " — both are fine to read.
  return buf.toString('latin1', offset + 257, offset + 262) === 'ustar';
}

function entryName(header: Buffer): string {
  const name = cString(header, 0, 100);
  const prefix = cString(header, 345, 155);
  const full = prefix ? `${prefix}/${name}` : name;
  return full.replace(/^(\.\/)+/, '');
}

function cString(buf: Buffer, offset: number, length: number): string {
  const field = buf.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.toString('utf8', 0, end === -1 ? length : end);
}

/** Sum of the header bytes with the checksum field counted as spaces. */
function headerSum(header: Buffer, blankChecksum = false): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += blankChecksum && i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0);
  return sum;
}

function writeOctal(buf: Buffer, offset: number, length: number, value: number): void {
  buf.write(value.toString(8).padStart(length - 1, '0') + '\u0000', offset, length, 'ascii');
}

/** An octal field (NUL or space terminated); undefined when it holds anything else. */
function parseOctal(buf: Buffer, offset: number, length: number): number | undefined {
  const text = buf.toString('latin1', offset, offset + length).replace(/[\u0000 ]+$/, '').replace(/^ +/, '');
  if (!/^[0-7]{1,12}$/.test(text)) return undefined;
  return parseInt(text, 8);
}
