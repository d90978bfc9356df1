/**
 * Writes crds/sedna.io_<plural>.yaml for every kind from the TypeBox schemas, and the
 * Istio CRDs fedmesh reads, for clusters without Istio: DestinationRule (destination-rule.ts),
 * Gateway and VirtualService (istio-gateway.ts).
 *
 *   node crds/generate.ts           # (re)write the files
 *   node crds/generate.ts --check   # exit 1 and list the files that are stale, missing or unexpected
 */
import { readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { crdFileName, crdYaml } from './crd.ts';
import { DESTINATION_RULE_FILE, destinationRuleYaml } from './destination-rule.ts';
import { GATEWAY_FILE, gatewayYaml, VIRTUAL_SERVICE_FILE, virtualServiceYaml } from './istio-gateway.ts';
import { KINDS } from './kinds.ts';

/** Where the generated files live: next to this script. */
export const CRD_DIR = import.meta.dirname;

/** Every generated file: name (relative to crds/) to content. */
export function renderAll(): Map<string, string> {
  return new Map([
    ...KINDS.map((k): [string, string] => [crdFileName(k.kind), crdYaml(k.kind)]),
    [DESTINATION_RULE_FILE, destinationRuleYaml()],
    [GATEWAY_FILE, gatewayYaml()],
    [VIRTUAL_SERVICE_FILE, virtualServiceYaml()],
  ]);
}

/** Generated-looking files in `dir` whose content differs from `expected`, or that should not exist. */
export function staleFiles(dir: string, expected: Map<string, string>): string[] {
  const present = new Set(readdirSync(dir).filter((f) => /^(sedna|networking\.istio)\.io_.+\.yaml$/.test(f)));
  const stale: string[] = [];
  for (const [name, content] of expected) {
    if (!present.has(name) || readFileSync(join(dir, name), 'utf8') !== content) stale.push(name);
  }
  for (const name of present) if (!expected.has(name)) stale.push(name);
  return stale.sort();
}

/** Runs the generator; `out` receives one line per file touched or found stale. Returns the exit code. */
export function main(
  argv: string[],
  dir = CRD_DIR,
  out: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): number {
  let check: boolean;
  try {
    check = parseArgs({ args: argv, options: { check: { type: 'boolean', default: false } } }).values.check;
  } catch (err) {
    out(`${(err as Error).message}\nusage: node crds/generate.ts [--check]`);
    return 2;
  }
  const expected = renderAll();
  if (check) {
    const stale = staleFiles(dir, expected);
    if (stale.length === 0) return 0;
    out('stale CRD files (run `node crds/generate.ts`):');
    for (const f of stale) out(`  crds/${f}`);
    return 1;
  }
  for (const name of staleFiles(dir, expected)) {
    const content = expected.get(name);
    if (content === undefined) unlinkSync(join(dir, name));
    else writeFileSync(join(dir, name), content);
    out(`${content === undefined ? 'removed' : 'wrote'} crds/${name}`);
  }
  return 0;
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
