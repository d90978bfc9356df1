/**
 * The node-local service proxy and load balancing: ClusterIP:port traffic steered by kernel rules
 * to per-port loopback listeners, balanced over the Service's endpoints and carried directly or
 * through mesh tunnels. See README.md.
 */

export { createProxyAgent, type ProxyAgentComponents, type ProxyConfig, ProxyConfigSchema } from './config.ts';
export {
  createDestinationRules,
  DESTINATION_RULES,
  type DestinationRules,
  InvalidRuleError,
  toPolicy,
} from './destination-rules.ts';
export { type Balancer, createBalancer, type LbPolicy, type SimplePolicy } from './lb.ts';
export type { ProxyPath } from './metrics.ts';
export {
  createServiceProxy,
  type PortStatus,
  type ServiceProxy,
  type ServiceProxyComponents,
  type ServiceProxyInit,
} from './proxy.ts';
export type { ProxyMesh } from './route.ts';
export {
  createSteering,
  renderIptables,
  renderNft,
  type Steering,
  type SteeringBackend,
  SteeringError,
} from './rules.ts';
