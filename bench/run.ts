/**
 * `npm run bench -- NAME [args]` runs bench/NAME.ts. Every benchmark ends by printing one JSON
 * line `{"bench":NAME, ...figures}` in which each figure sits beside a baseline measured in the
 * same run: these machines are noisy, so ratios are what hold from run to run.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !['run.ts', 'stats.ts'].includes(f) && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -3));
const [name, ...args] = process.argv.slice(2);
if (!name || name === '--help' || name === '-h' || !existsSync(join(here, `${name}.ts`))) {
  process.stderr.write(`usage: npm run bench -- NAME [args]\nbenchmarks: ${available.join(', ')}\n`);
  process.exit(name && name !== '--help' && name !== '-h' ? 2 : 0);
}
const mod = (await import(join(here, `${name}.ts`))) as { run(args: string[]): Promise<Record<string, unknown>> };
const figures = await mod.run(args);
process.stdout.write(`${JSON.stringify({ bench: name, ...figures })}\n`);
