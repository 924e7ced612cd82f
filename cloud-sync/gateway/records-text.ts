/**
 * The `records` array of a batch message as the bytes it arrived in, so the
 * hub can store it as received instead of printing 2,000 parsed records as
 * JSON again (that printing cost more hub CPU than parsing them). Used only
 * after the message was parsed and validated: the bytes then hold exactly the
 * records the parsed message holds.
 */

const KEY = Buffer.from('"records":[');
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The `[…]` of a batch message's `records`, or null when it cannot be cut
 * with certainty (the caller then stores the parsed records as before). Cut
 * only when the message is `{` + members + `"records":[…]}` with nothing
 * after it, records the LAST member (so no duplicate key after it replaces
 * it in the parse), and no `{` or `[` before the key (so the key belongs to
 * the top-level object: a string cannot hold `"records":[` — its quotes are
 * escaped — and nothing nested opened before it). The array must close
 * exactly before the final `}`: one pass over the bytes, strings skipped.
 */
export function recordsText(message: Buffer): Buffer | null {
  const n = message.length;
  if (n < 14 || message[0] !== OPEN_BRACE || message[n - 1] !== CLOSE_BRACE || message[n - 2] !== CLOSE_BRACKET) return null;
  const at = message.indexOf(KEY);
  if (at < 0) return null;
  for (let i = 1; i < at; i++) {
    const c = message[i];
    if (c === QUOTE) i = stringEnd(message, i);
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) return null;
  }
  const start = at + KEY.length - 1;
  return closingBracket(message, start) === n - 2 ? message.subarray(start, n - 1) : null;
}

/** Where the `[` at `start` closes, skipping strings; -1 if it does not. */
function closingBracket(bytes: Buffer, start: number): number {
  let depth = 0;
  const n = bytes.length;
  for (let i = start; i < n; i++) {
    const c = bytes[i];
    if (c === QUOTE) i = stringEnd(bytes, i);
    else if (c === OPEN_BRACKET || c === OPEN_BRACE) depth++;
    else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** The closing quote of the string opening at `i` (a backslash escapes the byte after it); past the end if none. */
function stringEnd(bytes: Buffer, i: number): number {
  const n = bytes.length;
  for (i++; i < n; i++) {
    const c = bytes[i];
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i;
  }
  return n;
}

/** Several batches' `records` arrays as one array (a run of batches is stored as one). */
export function joinRecordsTexts(texts: readonly Buffer[]): Buffer {
  if (texts.length === 1) return texts[0]!;
  const parts: Buffer[] = [];
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i]!;
    // Each is `[…]` with at least one record: drop the brackets, join with commas.
    parts.push(Buffer.from(i === 0 ? '[' : ','), text.subarray(1, text.length - 1));
  }
  parts.push(Buffer.from(']'));
  return Buffer.concat(parts);
}
