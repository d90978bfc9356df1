/**
 * Every `fedmesh` component command, loaded on demand: each command module loads its whole
 * implementation (libp2p, fastify, client-node…), so a process imports only the one it runs.
 */
import type { CommandSpec } from '../common/cli/command.ts';

export const components: Record<string, () => Promise<CommandSpec>> = {
  gm: async () => (await import('../gm/command.ts')).gmCommand,
  lc: async () => (await import('../lc/command.ts')).lcCommand,
  mesh: async () => (await import('../mesh/command.ts')).meshCommand,
  gateway: async () => (await import('../mesh/gateway/command.ts')).gatewayCommand,
  keepalived: async () => (await import('../deploy/keepalived/command.ts')).keepalivedCommand,
  sandbox: async () => (await import('./sandbox.ts')).sandboxCommand,
  envtest: async () => (await import('./envtest.ts')).envtestCommand,
};
