/**
 * Reads the parts of keepalived.yaml the tests check, without a YAML dependency: the manifest is
 * ours and keeps a fixed shape (ConfigMap `data` entries as `|` block scalars, one `add:` list).
 */
import { readFileSync } from 'node:fs';
import type { KeepalivedInit } from '../options.ts';

const MANIFEST = new URL('../keepalived.yaml', import.meta.url);

export interface ManifestParts {
  /** ConfigMap data: file name → keepalived.conf text. */
  configs: Map<string, string>;
  /** The container's added capabilities, e.g. NET_ADMIN. */
  capabilities: string[];
}

export function readManifest(): ManifestParts {
  const lines = readFileSync(MANIFEST, 'utf8').split('\n');
  const configs = new Map<string, string>();
  const dataAt = lines.indexOf('data:');
  if (dataAt < 0) throw new Error('keepalived.yaml: no ConfigMap data');
  for (let i = dataAt + 1; i < lines.length; ) {
    const key = /^ {2}([A-Za-z0-9._-]+): \|$/.exec(lines[i] as string)?.[1];
    if (key === undefined) break;
    const body: string[] = [];
    for (i++; i < lines.length && (lines[i] as string).startsWith('    '); i++)
      body.push((lines[i] as string).slice(4));
    configs.set(key, `${body.join('\n')}\n`);
  }
  const add = lines.map((l) => /^\s+add: \[(.*)\]$/.exec(l)?.[1]).find((m) => m !== undefined);
  if (add === undefined) throw new Error('keepalived.yaml: no capabilities add list');
  const capabilities = add.split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
  return { configs, capabilities };
}

/** The options keepalived.yaml's ConfigMap was rendered from (RFC 5737 example addresses). */
export function manifestNodeOptions(): Map<string, KeepalivedInit> {
  const ips = ['192.0.2.11', '192.0.2.12', '192.0.2.13'];
  return new Map(
    ips.map((ip, i) => [
      `gm-node-${i + 1}.conf`,
      {
        routerId: `gm-node-${i + 1}`,
        interface: 'eth0',
        virtualRouterId: 50,
        priority: 100 - i,
        unicast: { srcIp: ip, peers: ips.filter((p) => p !== ip) },
        virtualIps: ['192.0.2.50/24'],
        readiness: { kind: 'script', url: `http://${ip}:8080/readyz` },
      },
    ]),
  );
}
