/**
 * The mesh: a libp2p node per Kubernetes node, tunnels to (node, host:port) over direct,
 * hole-punched or relayed paths that survive relay failover. See README.md and docs/mesh.md.
 */
export { loadConfig, type MeshConfig, parseConfig, watchConfig } from './config.ts';
export {
  MESH_ERROR_CODES,
  MeshError,
  type MeshErrorCode,
  REFUSAL_REASONS,
  type RefusalReason,
  TunnelRefusedError,
} from './errors.ts';
export {
  createBallotBox,
  createProber,
  HEALTH_PROTOCOL,
  type HealthConfig,
  type HealthStatus,
  parseHealthConfig,
  type TallyResult,
  tallyZone,
  ViewRejectedError,
} from './health/index.ts';
export {
  createMeshNode,
  type MeshNode,
  type MeshNodeComponents,
  type MeshNodeInit,
  type MeshReconfig,
} from './node.ts';
export { generatePsk, parsePsk, readPskFile } from './pnet/psk.ts';
export type { RelayNode, RelayStatus } from './relays/relays.ts';
export {
  createServiceCatalog,
  type Endpoint,
  type ServiceCatalog,
  type ServiceChange,
  type ServiceEntry,
  type ServiceInfo,
} from './services/index.ts';
export type { MeshStatus, PeerStatus } from './status.ts';
export type { MeshTunnel, OpenTunnelOptions, TunnelInfo } from './tunnel/tunnel.ts';
