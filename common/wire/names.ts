/**
 * Object and node names as Kubernetes allows them. Validating them at the edge keeps odd text
 * (escapes, surrogates, HTML) out of store keys, logs and API paths, in both dialects.
 */
import { Type } from 'typebox';
import { MAX_NAME_LENGTH, MAX_NAMESPACE_LENGTH } from './constants.ts';

/** DNS-1123 subdomain: object names of the Sedna kinds and node names. */
export const NameSchema = Type.String({
  minLength: 1,
  maxLength: MAX_NAME_LENGTH,
  // Length is checked before the pattern, so backtracking stays bounded by 253 characters.
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
});

/** DNS-1123 label: namespaces. */
export const NamespaceSchema = Type.String({
  minLength: 1,
  maxLength: MAX_NAMESPACE_LENGTH,
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
});
