/**
 * A real Kubernetes control plane on loopback: kube-apiserver + etcd (and, on request,
 * kube-controller-manager with chosen controllers), built once from the Go module proxy and cached.
 * The sandbox, `fedmesh envtest`, the benchmarks and the integration tests (through
 * test/envtest's `useEnvtest`) all start it from here.
 *
 *   const plane = await startControlPlane({ log });   // certificates, etcd, kube-apiserver, /readyz
 *   const api = plane.kubeConfig().makeApiClient(CoreV1Api);
 *   await plane.stop();                               // no process left
 */
export { type Binaries, cacheDir, ensureBinaries } from './build.ts';
export { type ControlPlane, type ControlPlaneInit, type ControlPlaneState, startControlPlane } from './controlplane.ts';
export { startDetached, stopDetached } from './daemon.ts';
export { startEtcd } from './etcd.ts';
export { ETCD_VERSION, KUBERNETES_VERSION } from './versions.ts';
