/**
 * The webhook registered exactly as deploy/health.yaml registers it: its Service and its
 * MutatingWebhookConfiguration (caBundle filled in), the API server calling it through the
 * Service. There is no kube-proxy here, so the API server runs with
 * `--enable-aggregator-routing=true`: it resolves a webhook Service to one of its ready
 * endpoints (EndpointSlices) instead of its ClusterIP, as it does for aggregated APIs. The
 * endpoints are the GM replicas' webhook listeners on a non-loopback address of this host (an
 * EndpointSlice refuses loopback), one slice per replica since each listens on its own port.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { loadAllYaml } from '@kubernetes/client-node';
import type { KubeObject } from '../../common/kube/objects.ts';
import { isStatus, type KubeRest } from '../../common/kube/rest.ts';

export const DEPLOY_FILE = join(import.meta.dirname, '..', '..', 'deploy', 'health.yaml');
/** The API server flag that makes a webhook Service reachable without kube-proxy. */
export const AGGREGATOR_ROUTING = '--enable-aggregator-routing=true';

/** A non-loopback IPv4 address of this host, or undefined (then the tests register replica URLs). */
export function hostAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

/** Applies the Service and the MutatingWebhookConfiguration of deploy/health.yaml and points the Service at `endpoints`. */
export async function registerServiceWebhooks(
  rest: KubeRest,
  dir: string,
  endpoints: { ip: string; port: number }[],
): Promise<{ service: string; namespace: string }> {
  const docs = JSON.parse(JSON.stringify(loadAllYaml(readFileSync(DEPLOY_FILE, 'utf8')))) as KubeObject[];
  const svc = docs.find((d) => d.kind === 'Service') as KubeObject;
  const hooks = docs.find((d) => d.kind === 'MutatingWebhookConfiguration') as KubeObject & {
    webhooks: { clientConfig: { caBundle?: string } }[];
  };
  const ns = svc.metadata.namespace as string;
  const caBundle = readFileSync(join(dir, 'ca.crt')).toString('base64');
  for (const h of hooks.webhooks) h.clientConfig.caBundle = caBundle;
  await rest.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } }).catch((err: unknown) => {
    if (!isStatus(err, 409)) throw err;
  });
  await rest.request('POST', `/api/v1/namespaces/${ns}/services`, { body: svc });
  const portName = (svc.spec as { ports: { name: string }[] }).ports[0]?.name as string;
  for (const [i, e] of endpoints.entries()) {
    await rest.request('POST', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
      body: {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `${svc.metadata.name}-replica-${i}`,
          labels: {
            'kubernetes.io/service-name': svc.metadata.name,
            // Not the EndpointSlice controller's: it leaves these alone.
            'endpointslice.kubernetes.io/managed-by': 'fedmesh-test',
          },
        },
        addressType: 'IPv4',
        ports: [{ name: portName, port: e.port, protocol: 'TCP' }],
        endpoints: [{ addresses: [e.ip], conditions: { ready: true } }],
      },
    });
  }
  await rest.request('POST', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', { body: hooks });
  return { service: `${svc.metadata.name}.${ns}.svc`, namespace: ns };
}
