/**
 * Child processes that die with their owner: `spawnManaged` (logged, stopped with a timeout,
 * killed even when the owner is SIGKILLed) and `onExit` (synchronous last-resort cleanup hooks).
 * Used by the local control plane, netlab, the sandbox and the keepalived test helpers.
 */
export { onExit } from './on-exit.ts';
export { type ManagedProcess, type SpawnInit, spawnManaged } from './spawn.ts';
