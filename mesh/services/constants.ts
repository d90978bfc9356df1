/** Labels, names and defaults of service discovery, each with its reason. */

/**
 * EdgeMesh's opt-out label: its agent watches Services with the selector "this label does not
 * exist" (kube-proxy's `service.kubernetes.io/service-proxy-name` pattern), so a Service carrying
 * it — whatever its value, the empty value too — is not proxied. We mirror that, so a cluster
 * moving from EdgeMesh keeps its labels.
 */
export const EDGEMESH_PROXY_NAME_LABEL = 'service.edgemesh.kubeedge.io/service-proxy-name';

/** fedmesh's own opt-out label, same semantics: present (any value) → not proxied by fedmesh. */
export const FEDMESH_PROXY_NAME_LABEL = 'fedmesh.io/service-proxy-name';

/** Both opt-out labels, in the order they are reported. */
export const OPT_OUT_LABELS = [FEDMESH_PROXY_NAME_LABEL, EDGEMESH_PROXY_NAME_LABEL] as const;

/** The label the EndpointSlice controller (and anyone creating slices by hand) sets to the Service name. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** Kubernetes' default for `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_S = 10_800;
