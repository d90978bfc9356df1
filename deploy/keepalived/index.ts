/**
 * keepalived beside the GM: a VIP that follows the elected leader (whose /readyz alone answers 200).
 *
 *   const conf = renderKeepalivedConf({ routerId: 'gm-1', interface: 'eth0', virtualRouterId: 50,
 *     priority: 100, virtualIps: ['192.0.2.50/24'],
 *     readiness: { kind: 'script', url: 'http://127.0.0.1:8080/readyz' } });
 *
 * Always gate a rendering on `keepalived -t -f FILE` before (re)starting keepalived.
 */
export { KeepalivedOptionError } from './errors.ts';
export type {
  FileReadinessCheck,
  KeepalivedInit,
  ReadinessCheck,
  ScriptReadinessCheck,
  UnicastInit,
} from './options.ts';
export { type ReadinessFileLoopInit, runReadinessFileLoop } from './readiness-file.ts';
export { renderKeepalivedConf, validateKeepalivedInit } from './render.ts';
