import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';

/** 1-based line and column in a text file, as editors show them. */
export interface Position {
  line: number;
  column: number;
}

export type KeyPath = ReadonlyArray<string | number>;

export interface YamlSyntaxError extends Position {
  /** Plain-words description without the code frame the yaml package adds. */
  message: string;
}

/** Whether a position should point at a map key (`endpont:`) or at its value. */
export type PositionTarget = 'key' | 'value';

export interface PositionedYaml {
  /** The parsed value (plain JS objects), or undefined when the text is empty. */
  value: unknown;
  /** Syntax errors; when there are any, `value` is best-effort. */
  errors: YamlSyntaxError[];
  /**
   * Where the node at `path` was written. When the path goes beyond what exists
   * (a missing key), the nearest existing parent is returned, so an error about
   * a missing key points at the map that lacks it.
   */
  positionOf(path: KeyPath, target?: PositionTarget): Position;
}

/**
 * Parses YAML and keeps positions, so configuration errors can name the line
 * and column a person has to edit.
 */
export function parseYamlWithPositions(text: string): PositionedYaml {
  const lineCounter = new LineCounter();
  // prettyErrors off: we want the bare message and compute the position ourselves.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const errors = doc.errors.map((err) => ({ ...at(err.pos[0]), message: plainSyntaxMessage(err.code, err.message) }));
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch {
    // An alias bomb or an unresolvable alias: the syntax errors already say so.
    value = undefined;
  }
  return {
    value,
    errors,
    positionOf: (path, target = 'value') => at(offsetOf(doc, path, target)),
  };
}

function offsetOf(doc: Document, path: KeyPath, target: PositionTarget): number {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(segment));
      if (!pair) return offset;
      const keyStart = rangeStart(pair.key);
      const valueStart = rangeStart(pair.value);
      if (last && target === 'key') return keyStart ?? offset;
      // `key:` with nothing after it has no value node; point at the key then.
      offset = valueStart ?? keyStart ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      const start = rangeStart(item);
      if (start === undefined) return offset;
      offset = start;
      node = item;
    } else {
      return offset;
    }
  }
  return offset;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}

const SYNTAX_HINTS: Partial<Record<string, string>> = {
  BAD_INDENT: 'the indentation does not line up with the lines above (use spaces, the same number for items of one list or map)',
  TAB_AS_INDENT: 'a tab is used for indentation; YAML needs spaces',
  DUPLICATE_KEY: 'the same key appears twice in one map',
  MULTIPLE_DOCS: 'the file holds more than one YAML document (a line with ---); keep one',
  MISSING_CHAR: 'a closing quote or bracket is missing',
  BLOCK_AS_IMPLICIT_KEY: 'a key is not followed by ":" or a value is not indented under its key',
  MULTILINE_IMPLICIT_KEY: 'a key spans several lines; a ":" is probably missing on the line above',
};

function plainSyntaxMessage(code: string, message: string): string {
  const firstLine = message.split('\n', 1)[0] ?? message;
  const hint = SYNTAX_HINTS[code];
  return hint ? `YAML syntax error: ${hint} (${firstLine})` : `YAML syntax error: ${firstLine}`;
}
