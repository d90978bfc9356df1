/**
 * Validation of Sedna objects against the same TypeBox schemas the CRDs are generated from, with the
 * API server's semantics where they matter on the wire:
 * - a `null` in a declared field counts as absent (the API server prunes such nulls; Go clients such as
 *   Sedna's GM send `"lastProbeTime": null` for unset times);
 * - unknown fields are accepted (the API server drops them; newer Sedna versions add fields);
 * - pod templates are opaque objects.
 * In addition `apiVersion` and `kind`, when present, must name the expected kind.
 */
import Compile, { type Validator } from 'typebox/compile';
import type { TLocalizedValidationError } from 'typebox/error';
import { FedmeshError } from '../common/errors.ts';
import { type KindName, kindDefinition, type Resources } from './kinds.ts';

/** One problem found in an object. */
export interface ValidationIssue {
  /** Field path as the API server prints it, e.g. `spec.trainingWorkers[0].dataset.name`; `` for the object. */
  path: string;
  /** The JSON Schema rule that failed (`required`, `type`, `format`, `const`, `minimum`, ...): stable, for code. */
  keyword: string;
  /** What is wrong, e.g. `Required value` or `expected string, got integer`. */
  message: string;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

/** An object did not match its kind's schema. Nothing was changed. */
export class InvalidResourceError extends FedmeshError {
  readonly kind: string;
  readonly issues: readonly ValidationIssue[];
  constructor(kind: string, name: string | undefined, issues: readonly ValidationIssue[]) {
    const shown = issues.slice(0, 5).map(formatIssue).join('; ');
    const more = issues.length > 5 ? `; and ${issues.length - 5} more` : '';
    super(`invalid ${kind}${name ? ` "${name}"` : ''}: ${shown}${more}`, 'ERR_INVALID_RESOURCE');
    this.name = 'InvalidResourceError';
    this.kind = kind;
    this.issues = issues;
  }
}

/** `spec.url: Required value`. */
export function formatIssue(issue: ValidationIssue): string {
  return issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`;
}

// Compiled on first use: importing this module stays cheap for processes that never validate a kind.
const validators = new Map<KindName, Validator>();
function validatorFor(kind: KindName): Validator {
  let v = validators.get(kind);
  if (!v) {
    v = Compile(kindDefinition(kind).schema);
    validators.set(kind, v);
  }
  return v;
}

/**
 * Checks `obj` against `kind`. On success `value` is a copy of `obj` with nulls in declared fields
 * removed (what the API server would store); `obj` itself is never modified.
 */
export function validate<K extends KindName>(kind: K, obj: unknown): ValidationResult<Resources[K]> {
  const value = pruneNulls(kindDefinition(kind).schema as unknown as Json, structuredClone(obj));
  const validator = validatorFor(kind);
  if (validator.Check(value)) return { ok: true, value: value as Resources[K] };
  return { ok: false, issues: toIssues(validator.Errors(value), value) };
}

/** Like `validate`, but returns the object or throws InvalidResourceError. */
export function parseResource<K extends KindName>(kind: K, obj: unknown): Resources[K] {
  const r = validate(kind, obj);
  if (r.ok) return r.value;
  throw new InvalidResourceError(kind, nameOf(obj), r.issues);
}

export const validateDataset = (obj: unknown) => validate('Dataset', obj);
export const validateModel = (obj: unknown) => validate('Model', obj);
export const validateJointInferenceService = (obj: unknown) => validate('JointInferenceService', obj);
export const validateFederatedLearningJob = (obj: unknown) => validate('FederatedLearningJob', obj);
export const validateIncrementalLearningJob = (obj: unknown) => validate('IncrementalLearningJob', obj);
export const validateLifelongLearningJob = (obj: unknown) => validate('LifelongLearningJob', obj);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Removes null-valued declared properties, recursively, where the schema describes the value. */
function pruneNulls(schema: Json, value: unknown): unknown {
  if (Array.isArray(value) && isObject(schema.items)) {
    for (const item of value) pruneNulls(schema.items, item);
  } else if (isObject(value) && isObject(schema.properties)) {
    for (const [key, sub] of Object.entries(schema.properties as Record<string, Json>)) {
      if (value[key] === null && sub.nullable !== true) delete value[key];
      else if (key in value) pruneNulls(sub, value[key]);
    }
  }
  return value;
}

function toIssues(errors: TLocalizedValidationError[], value: unknown): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const e of errors) {
    const at = pointerSegments(e.instancePath);
    if (e.keyword === 'required') {
      for (const p of e.params.requiredProperties)
        issues.push({ path: toPath([...at, p]), keyword: 'required', message: 'Required value' });
      continue;
    }
    const actual = lookup(value, at);
    let message: string;
    switch (e.keyword) {
      case 'type':
        message = `expected ${[e.params.type].flat().join(' or ')}, got ${jsonType(actual)}`;
        break;
      case 'const':
        message = `expected ${JSON.stringify(e.params.allowedValue)}, got ${JSON.stringify(actual)}`;
        break;
      case 'format':
        message = `expected ${e.params.format}, got ${JSON.stringify(actual)}`;
        break;
      default:
        message = e.message;
    }
    issues.push({ path: toPath(at), keyword: e.keyword, message });
  }
  return issues;
}

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** JSON pointer segments to `a.b[0].c`, quoting keys that are not identifiers (label keys). */
function toPath(segments: string[]): string {
  let out = '';
  for (const s of segments) {
    if (/^\d+$/.test(s)) out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

function lookup(value: unknown, segments: string[]): unknown {
  let v = value;
  for (const s of segments) v = isObject(v) || Array.isArray(v) ? (v as Json)[s] : undefined;
  return v;
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function nameOf(obj: unknown): string | undefined {
  const meta = isObject(obj) ? obj.metadata : undefined;
  return isObject(meta) && typeof meta.name === 'string' ? meta.name : undefined;
}
