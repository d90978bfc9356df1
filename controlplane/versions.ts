/** Pinned versions of the local control plane. Changing one rebuilds the cached binaries. */
export const KUBERNETES_VERSION = 'v1.34.4';
/** etcd server module version; the one k8s.io/kubernetes v1.34.4 itself requires. */
export const ETCD_VERSION = 'v3.6.4';
