/**
 * Parts of the docs that are generated from the code, so they cannot drift: each command's flag
 * table (from its spec: names, defaults, descriptions). A generated part sits between
 * `<!-- generated:NAME -->` and `<!-- /generated -->` in a Markdown file; `npm run docs` rewrites
 * them, and cli/docs.test.ts fails when one is stale.
 *
 *   node cli/docs.ts          # rewrite every generated part
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandSpec } from '../common/cli/command.ts';
import { components } from './components.ts';

const root = join(import.meta.dirname, '..');

/** Where each generated part lives: Markdown file → parts (a command path, or an options table below). */
export const PARTS: Record<string, string[]> = {
  'gm/README.md': ['gm'],
  'gm/hub/README.md': ['HubInit'],
  'lc/README.md': ['LcInit', 'lc'],
  'mesh/README.md': ['mesh'],
  'mesh/gateway/README.md': ['gateway'],
  'deploy/keepalived/README.md': ['keepalived render', 'keepalived readiness-file'],
  'cli/README.md': ['sandbox', 'envtest start', 'envtest stop', 'envtest build'],
};

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The Markdown flag table of one command. */
export function flagTable(cmd: CommandSpec): string {
  const rows = Object.entries(cmd.flags ?? {}).map(([name, f]) => {
    const flag = `\`--${name}${f.type === 'boolean' ? '' : ` ${f.value ?? 'VALUE'}`}\``;
    const def = f.required ? 'required' : f.default !== undefined ? `\`${f.default}\`` : '';
    return [flag, def, `${cell(f.description)}${f.multiple ? ' (repeatable)' : ''}`];
  });
  if (rows.length === 0) return '(no flags)';
  return table(['flag', 'default', 'meaning'], rows);
}

/** A Markdown table padded the way the repository's formatter writes it (columns aligned). */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function find(path: string): Promise<CommandSpec> {
  const [first, ...rest] = path.split(' ');
  const load = components[first as string];
  if (!load) throw new Error(`no component ${first}`);
  let cmd = await load();
  for (const name of rest) {
    const next = cmd.subcommands?.find((c) => c.name === name);
    if (!next) throw new Error(`no command ${path}`);
    cmd = next;
  }
  return cmd;
}

const mib = (n: number) => (n % 1048576 === 0 ? `${n / 1048576} MiB` : `${n} bytes`);
const ms = (n: number) => (n % 1000 === 0 && n >= 1000 ? `${n / 1000} s` : `${n} ms`);

/** Option defaults of a component's `XInit`, read from its constants (the values the code uses). */
const OPTIONS: Record<string, () => Promise<Array<[string, string]>>> = {
  async HubInit() {
    const c = await import('../gm/hub/constants.ts');
    return [
      ['maxFrameBytes', mib(c.DEFAULT_MAX_FRAME_BYTES)],
      ['heartbeatIntervalMs', ms(c.DEFAULT_HEARTBEAT_INTERVAL_MS)],
      ['heartbeatTimeoutMs', ms(c.DEFAULT_HEARTBEAT_TIMEOUT_MS)],
      ['helloTimeoutMs', ms(c.DEFAULT_HELLO_TIMEOUT_MS)],
      ['connectionLeaseRenewMs', `${ms(c.CONNECTION_LEASE_RENEW_MS)} (0 turns the Leases off)`],
      ['limits.maxConnections', String(c.DEFAULT_HUB_LIMITS.maxConnections)],
      ['limits.maxConnectionsPerSource', String(c.DEFAULT_HUB_LIMITS.maxConnectionsPerSource)],
      ['limits.handshakeTimeoutMs', ms(c.DEFAULT_HUB_LIMITS.handshakeTimeoutMs)],
      ['lcNamespace', 'the GM namespace'],
      ['lcServiceAccount', '`lc`'],
    ];
  },
  async LcInit() {
    const c = await import('../lc/constants.ts');
    const h = (await import('../common/net/guard.ts')).DEFAULT_HTTP_LIMITS;
    return [
      ['tokenFile', `\`${c.DEFAULT_TOKEN_FILE}\``],
      ['stateDir', `undefined: a memory store (the CLI: \`${c.DEFAULT_STATE_DIR}\`)`],
      ['backoffMinMs', ms(c.BACKOFF_MIN_MS)],
      ['backoffMaxMs', ms(c.BACKOFF_MAX_MS)],
      ['maxReportBytes', mib(c.MAX_REPORT_BYTES)],
      ['maxOutboxReports', String(c.MAX_OUTBOX_REPORTS)],
      ['maxOutboxBytes', mib(c.MAX_OUTBOX_BYTES)],
      ['maxOutboxReportsPerObject', String(c.MAX_OUTBOX_REPORTS_PER_OBJECT)],
      ['maxDeadLetters', String(c.MAX_DEAD_LETTERS)],
      ['rootfs', `\`${c.DEFAULT_ROOTFS}\` (the CLI: \`$ROOTFS_MOUNT_DIR\` when set)`],
      ['credentialsDir', 'undefined: s3:// datasets cannot be read'],
      ['datasetPeriodMs', ms(c.DATASET_PERIOD_MS)],
      [
        'httpLimits',
        `${h.maxConnections} connections, ${h.maxConnectionsPerSource} per source, ${ms(h.handshakeTimeoutMs)} handshake`,
      ],
    ];
  },
};

/** The part named `path`, as it must read: a heading line and the table. */
export async function renderPart(path: string): Promise<string> {
  const options = OPTIONS[path];
  if (options) {
    const rows = (await options()).map(([k, v]) => [`\`${k}\``, v]);
    return `\`${path}\` defaults\n\n${table(['option', 'default'], rows)}`;
  }
  const cmd = await find(path);
  return `\`fedmesh ${path}\` — ${cmd.summary}\n\n${flagTable(cmd)}`;
}

const marker = (name: string) => new RegExp(`(<!-- generated:${name} -->)[\\s\\S]*?(<!-- /generated -->)`);

/** The file's text with every generated part rewritten; throws when a part's markers are missing. */
export async function regenerate(file: string, text: string): Promise<string> {
  let out = text;
  for (const path of PARTS[file] ?? []) {
    const re = marker(path.replace(/ /g, '-'));
    if (!re.test(out)) throw new Error(`${file}: no <!-- generated:${path.replace(/ /g, '-')} --> part`);
    const body = await renderPart(path);
    out = out.replace(re, (_m, open: string, close: string) => `${open}\n\n${body}\n\n${close}`);
  }
  return out;
}

if (import.meta.main) {
  for (const file of Object.keys(PARTS)) {
    const path = join(root, file);
    const text = readFileSync(path, 'utf8');
    const next = await regenerate(file, text);
    if (next !== text) {
      writeFileSync(path, next);
      process.stderr.write(`docs: rewrote ${file}\n`);
    }
  }
}
