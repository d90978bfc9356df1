/**
 * Service discovery: Services and discovery.k8s.io/v1 EndpointSlices (IPv4 and IPv6) folded per
 * Service, for the proxy and DNS. See README.md.
 */
export {
  type ClusterIPMatch,
  createServiceCatalog,
  type ServiceCatalog,
  type ServiceCatalogComponents,
  type ServiceCatalogInit,
  type ServiceChange,
} from './catalog.ts';
export { EDGEMESH_PROXY_NAME_LABEL, FEDMESH_PROXY_NAME_LABEL, SERVICE_NAME_LABEL } from './constants.ts';
export {
  type Endpoint,
  type EndpointPort,
  endpointPort,
  type Protocol,
  type ServiceEntry,
  type ServiceInfo,
  type ServicePort,
} from './model.ts';
