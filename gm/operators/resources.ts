/** The API resources the operators read and write, and the small object shape they rely on. */
import { KINDS, type Kind } from '../../common/wire/kinds.ts';
import { GROUP, VERSION } from '../../crds/constants.ts';
import { kindDefinition } from '../../crds/kinds.ts';

export {
  apiVersionOf,
  collectionPath,
  controllerOf,
  type KubeObject,
  keyOf,
  type ObjectMeta,
  type OwnerReference,
  objectPath,
  type ResourceType,
  splitKey,
} from '../../common/kube/objects.ts';

import type { ResourceType } from '../../common/kube/objects.ts';

// The Sedna kinds come from their one list (common/wire/kinds.ts), plurals from their CRD definitions.
const SEDNA_RESOURCES = Object.fromEntries(
  KINDS.map((kind) => [kind, { group: GROUP, version: VERSION, plural: kindDefinition(kind).plural, kind }]),
) as Record<Kind, ResourceType>;

export const RESOURCES = {
  ...SEDNA_RESOURCES,
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' },
  Service: { group: '', version: 'v1', plural: 'services', kind: 'Service' },
  Pod: { group: '', version: 'v1', plural: 'pods', kind: 'Pod' },
} as const satisfies Record<Kind | 'Deployment' | 'Service' | 'Pod', ResourceType>;
