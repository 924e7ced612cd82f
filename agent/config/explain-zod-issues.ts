import { z } from 'zod';
import type { KeyPath, PositionTarget } from '../../shared/yaml-positions.js';
import { didYouMeanSuffix } from './did-you-mean.js';

/** A validation problem in plain words, relative to the value that was validated. */
export interface ExplainedIssue {
  path: Array<string | number>;
  message: string;
  hint?: string;
  /** Unknown keys point at the key; everything else at the value. */
  target: PositionTarget;
}

type Issue = z.core.$ZodIssue;

/** Key names that mean someone tried to write a secret inline. */
const SECRET_KEY = /^(password|passwd|pwd|token|secret|apikey|api_key|accesstoken)$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/**
 * Turns zod issues into sentences an OT engineer can act on: what was found,
 * what is expected, and a did-you-mean for misspelt keys and options. `schema`
 * and `data` are what was validated; they are used to find the keys allowed at
 * the place of an unknown key and the description of a missing one.
 */
export function explainZodIssues(schema: z.ZodType, data: unknown, issues: readonly Issue[], where: KeyPath = []): ExplainedIssue[] {
  const out: ExplainedIssue[] = [];
  const seenValuePaths = new Set<string>();
  for (const issue of issues) {
    for (const explained of explainIssue(schema, data, issue, [], where)) {
      // zod may report the same value twice (regex and min length on an empty
      // name); one sentence per value is enough.
      const key = explained.target + ':' + JSON.stringify(explained.path);
      if (explained.target === 'value' && seenValuePaths.has(key)) continue;
      seenValuePaths.add(key);
      out.push(explained);
    }
  }
  return out;
}

/** `where` is the path of `data` in its file; it is only used in the wording. */
function explainIssue(schema: z.ZodType, data: unknown, issue: Issue, prefix: Array<string | number>, where: KeyPath): ExplainedIssue[] {
  const path = [...prefix, ...(issue.path as Array<string | number>)];
  const found = valueAt(data, path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => unknownKey(schema, data, path, key, where));
    case 'invalid_type': {
      if (found === undefined) {
        const key = path[path.length - 1];
        const description = schemaAt(schema, data, path)?.description;
        return [{
          path,
          message: `${typeof key === 'string' ? `"${key}"` : 'a value'} is missing; expected ${expectedWords(issue.expected)}`,
          ...(description ? { hint: description } : {}),
          target: 'value',
        }];
      }
      const quoteHint = issue.expected === 'string' && (typeof found === 'number' || typeof found === 'boolean')
        ? { hint: 'put the value in quotes to make it text' }
        : {};
      return [{ path, message: `expected ${expectedWords(issue.expected)}, found ${describeFound(found)}`, ...quoteHint, target: 'value' }];
    }
    case 'invalid_value':
      return [explainOptions(path, issue.values, found)];
    case 'invalid_union':
      return explainUnion(schema, data, issue, path, found, where);
    case 'invalid_format': {
      const custom = !issue.message.startsWith('Invalid');
      const expected = custom ? issue.message : `text in the form ${issue.format}${issue.pattern ? ` (${issue.pattern})` : ''}`;
      return [{ path, message: `expected ${expected}; found ${describeFound(found, true)}`, target: 'value' }];
    }
    case 'too_small':
    case 'too_big':
      return [{ path, message: `expected ${boundWords(issue)}; found ${describeFound(found)}`, target: 'value' }];
    case 'not_multiple_of':
      return [{ path, message: `expected a multiple of ${String(issue.divisor)}; found ${describeFound(found)}`, target: 'value' }];
    default:
      // custom issues come from the schema's own checks and are already in plain words.
      return [{ path, message: issue.message, target: 'value' }];
  }
}

function unknownKey(schema: z.ZodType, data: unknown, path: Array<string | number>, key: string, where: KeyPath): ExplainedIssue {
  const keyPath = [...path, key];
  if (isSecretKey(key)) {
    return {
      path: keyPath,
      message: `passwords are never written inline: use passwordFile or passwordEnv instead of "${key}"`,
      hint: 'put the secret in a file readable only by the vigil user (passwordFile: /etc/vigil/plc1.password) or in an environment variable (passwordEnv: PLC1_PASSWORD)',
      target: 'key',
    };
  }
  const allowed = allowedKeys(schemaAt(schema, data, path), valueAt(data, path));
  const full = [...where, ...path];
  const place = full.length ? ` in ${formatPath(full)}` : ' at the top level';
  const allowedList = allowed.length ? { hint: `allowed keys here: ${allowed.join(', ')}` } : {};
  return { path: keyPath, message: `unknown key "${key}"${place}${didYouMeanSuffix(key, allowed)}`, ...allowedList, target: 'key' };
}

function explainOptions(path: Array<string | number>, values: readonly unknown[], found: unknown): ExplainedIssue {
  const shown = values.map((v) => String(v));
  if (found === undefined) {
    const key = path[path.length - 1];
    const list = values.length === 1 ? shown[0] : `one of ${shown.join(', ')}`;
    return { path, message: `${typeof key === 'string' ? `"${key}"` : 'a value'} is missing; expected ${list}`, target: 'value' };
  }
  if (values.length === 1) {
    return { path, message: `expected ${shown[0]}; found ${describeFound(found, true)}`, target: 'value' };
  }
  const guess = typeof found === 'string' ? didYouMeanSuffix(found, shown) : '';
  return { path, message: `expected one of ${shown.join(', ')}; found ${describeFound(found, true)}${guess}`, target: 'value' };
}

function explainUnion(
  schema: z.ZodType,
  data: unknown,
  issue: Extract<Issue, { code: 'invalid_union' }>,
  path: Array<string | number>,
  found: unknown,
  where: KeyPath,
): ExplainedIssue[] {
  const withDiscriminator = issue as { discriminator?: string; options?: unknown[] };
  if (withDiscriminator.discriminator && withDiscriminator.options) {
    const disc = withDiscriminator.discriminator;
    // zod puts the discriminator key in the path when it is present but wrong.
    const discPath = path[path.length - 1] === disc ? path : [...path, disc];
    const value = valueAt(data, discPath);
    const options = withDiscriminator.options.map(String);
    const guess = typeof value === 'string' ? didYouMeanSuffix(value, options) : '';
    const head = value === undefined ? `"${disc}" is missing; expected` : 'expected';
    return [{
      path: discPath,
      message: `${head} ${disc} ${options.join(' or ')}${value === undefined ? '' : `; found ${describeFound(value, true)}`}${guess}`,
      target: 'value',
    }];
  }
  // A union of plain values (qos: 0 | 1 | 2) reads best as one list of options.
  const branchValues = issue.errors.map((branch) =>
    branch.length === 1 && branch[0]?.code === 'invalid_value' && branch[0].path.length === 0 ? branch[0].values : undefined,
  );
  if (branchValues.length > 0 && branchValues.every((v) => v !== undefined)) {
    return [explainOptions(path, branchValues.flatMap((v) => v ?? []), found)];
  }
  // Otherwise explain the branch that came closest (fewest problems).
  const closest = [...issue.errors].sort((a, b) => a.length - b.length)[0];
  if (!closest || closest.length === 0) return [{ path, message: `found ${describeFound(found)}, which fits none of the allowed forms`, target: 'value' }];
  return closest.flatMap((inner) => explainIssue(schema, data, inner, path, where));
}

// ── Finding the schema at a path ──────────────────────────────────────────

/** The schema that validates the value at `path`, following unions by the data. */
export function schemaAt(root: z.ZodType, data: unknown, path: KeyPath): z.ZodType | undefined {
  let schema: z.ZodType | undefined = root;
  let value: unknown = data;
  for (const segment of path) {
    schema = pickOption(unwrap(schema), value);
    if (schema instanceof z.ZodObject && typeof segment === 'string') {
      schema = (schema.shape as Record<string, z.ZodType>)[segment];
    } else if (schema instanceof z.ZodArray && typeof segment === 'number') {
      schema = schema.element as z.ZodType;
    } else {
      return undefined;
    }
    value = isRecord(value) || Array.isArray(value) ? (value as Record<string | number, unknown>)[segment] : undefined;
  }
  return schema;
}

function allowedKeys(schema: z.ZodType | undefined, value: unknown): string[] {
  const object = pickOption(unwrap(schema), value);
  return object instanceof z.ZodObject ? Object.keys(object.shape as object) : [];
}

function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let current = schema;
  while (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodNullable) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

function pickOption(schema: z.ZodType | undefined, value: unknown): z.ZodType | undefined {
  if (!(schema instanceof z.ZodUnion)) return schema;
  const options = (schema.options as readonly z.ZodType[]).map(unwrap).filter((o): o is z.ZodType => o !== undefined);
  if (Array.isArray(value)) return options.find((o) => o instanceof z.ZodArray) ?? options[0];
  if (!isRecord(value)) return options[0];
  const disc = (schema._zod.def as { discriminator?: string }).discriminator;
  if (disc) {
    const match = options.find((o) => o instanceof z.ZodObject && literalValue(o.shape[disc] as z.ZodType) === value[disc]);
    if (match) return match;
  }
  // Plain union of objects: the option that knows most of the keys written.
  const keys = Object.keys(value);
  let best: z.ZodType | undefined;
  let bestScore = -1;
  for (const option of options) {
    if (!(option instanceof z.ZodObject)) continue;
    const score = keys.filter((k) => k in option.shape).length;
    if (score > bestScore) {
      best = option;
      bestScore = score;
    }
  }
  return best ?? options[0];
}

function literalValue(schema: z.ZodType | undefined): unknown {
  return schema instanceof z.ZodLiteral ? schema.value : undefined;
}

// ── Words ─────────────────────────────────────────────────────────────────

export function valueAt(data: unknown, path: KeyPath): unknown {
  let value = data;
  for (const segment of path) {
    if (!isRecord(value) && !Array.isArray(value)) return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const EXPECTED_WORDS: Record<string, string> = {
  string: 'a text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a group of keys (key: value lines)',
  array: 'a list (lines starting with "- ")',
};

function expectedWords(expected: string): string {
  return EXPECTED_WORDS[expected] ?? `a ${expected}`;
}

/**
 * What was written, in words: `the text "fast"`, `the number 3`, `a list of 2
 * items`. `bare` shows text as just `"fast"`, where the expected side already
 * makes clear that text is wanted (options, patterns).
 */
export function describeFound(value: unknown, bare = false): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') {
    if (value === '') return 'an empty text';
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return bare ? `"${shown}"` : `the text "${shown}"`;
  }
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return `${value}`;
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  return 'a group of keys';
}

function boundWords(issue: Extract<Issue, { code: 'too_small' | 'too_big' }>): string {
  const small = issue.code === 'too_small';
  const limit = small ? (issue as { minimum: number | bigint }).minimum : (issue as { maximum: number | bigint }).maximum;
  const n = Number(limit);
  const inclusive = issue.inclusive !== false;
  switch (issue.origin) {
    case 'string':
      if (small && n === 1) return 'a non-empty text';
      return `a text of ${small ? 'at least' : 'at most'} ${n} characters`;
    case 'array':
    case 'set':
      if (small && n === 1) return 'a list with at least one item';
      return `a list of ${small ? 'at least' : 'at most'} ${n} items`;
    default:
      if (inclusive) return `a number of ${small ? 'at least' : 'at most'} ${n}`;
      return `a number ${small ? 'greater' : 'less'} than ${n}`;
  }
}

/** `sources[0].user.type`, the way the path is shown next to an error. */
export function formatPath(path: KeyPath): string {
  let out = '';
  for (const segment of path) {
    out += typeof segment === 'number' ? `[${segment}]` : out === '' ? segment : `.${segment}`;
  }
  return out;
}
