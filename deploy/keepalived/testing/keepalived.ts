/**
 * Runs the real keepalived binary inside a test network namespace (test-only helpers).
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeadlineError, PrerequisiteError } from '../../../common/errors.ts';
import { type ManagedProcess, onExit, spawnManaged } from '../../../common/process/index.ts';
import { defer } from './defer.ts';

/** `keepalived -t` answers in ~20 ms; anything near this means it hung. */
const CONFIG_TEST_TIMEOUT_MS = 10_000;

/** Absolute path of keepalived, or a PrerequisiteError that says how to install it. */
export function requireKeepalived(): string {
  // /usr/sbin is often missing from a non-login PATH; Debian installs keepalived there.
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'].filter((d) => d !== '');
  for (const d of dirs) {
    const candidate = join(d, 'keepalived');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'EACCES') {
        throw err;
      }
    }
  }
  throw new PrerequisiteError(
    'keepalived is not installed (looked in PATH, /usr/sbin, /sbin): run `apt-get update && apt-get install -y keepalived`',
  );
}

/** A temporary directory removed after `t` (and on an interrupted exit). */
export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'fmka-'));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  const unregister = onExit(remove);
  defer(t, () => {
    unregister();
    remove();
  });
  return dir;
}

export interface ConfigTestResult {
  /** keepalived's exit code (or the signal name). */
  exitCode: number | string;
  /** stdout + stderr; empty for a clean, valid file. */
  output: string;
}

/**
 * `keepalived -e -t -f FILE` inside `netns` (interfaces are checked in the namespace `-t` runs in).
 * `-e` makes a missing file an error; without it keepalived exits 0. Private pid files keep the
 * run independent of any keepalived on the host.
 */
export async function keepalivedConfigTest(t: TestContext, netns: string, conf: string): Promise<ConfigTestResult> {
  const bin = requireKeepalived();
  const dir = tempDir(t);
  const file = join(dir, 'keepalived.conf');
  const log = join(dir, 'out.log');
  writeFileSync(file, conf);
  const proc = spawnManaged({
    name: 'keepalived -t',
    cmd: 'ip',
    args: ['netns', 'exec', netns, bin, ...pidArgs(dir), '-e', '-t', '-f', file],
    logFile: log,
  });
  const timer = setTimeout(() => void proc.stop('SIGKILL'), CONFIG_TEST_TIMEOUT_MS);
  const exitCode = await proc.exited;
  clearTimeout(timer);
  return { exitCode, output: readFileSync(log, 'utf8') };
}

function pidArgs(dir: string): string[] {
  return ['-p', join(dir, 'ka.pid'), '-r', join(dir, 'vrrp.pid'), '-c', join(dir, 'checker.pid')];
}

export interface RunningKeepalived {
  proc: ManagedProcess;
  /** Everything keepalived logged so far (`-l -D`: detailed, to stderr). */
  log(): string;
}

/**
 * Starts keepalived in the foreground inside `netns`, limited to `capabilities` (the bounding set,
 * as a container runtime would), and stops it after `t`.
 */
export function startKeepalived(
  t: TestContext,
  netns: string,
  conf: string,
  capabilities: string[],
): RunningKeepalived {
  const bin = requireKeepalived();
  const dir = tempDir(t);
  const file = join(dir, 'keepalived.conf');
  const logFile = join(dir, 'out.log');
  writeFileSync(file, conf);
  const bounding = ['-all', ...capabilities.map((c) => `+${c.toLowerCase()}`)].join(',');
  const proc = spawnManaged({
    name: 'keepalived',
    cmd: 'ip',
    args: [
      'netns',
      'exec',
      netns,
      'setpriv',
      `--bounding-set=${bounding}`,
      '--inh-caps=-all',
      '--',
      bin,
      ...pidArgs(dir),
      '-n',
      '-l',
      '-D',
      '-G',
      '-f',
      file,
    ],
    logFile,
  });
  // Deferred after the namespace and tempDir hooks, so it runs before them.
  defer(t, () => proc.stop('SIGTERM', 5_000));
  return { proc, log: () => readFileSync(logFile, 'utf8') };
}

/** Polls `read()` every 50 ms until it matches `re`; throws DeadlineError with the text otherwise. */
export async function waitForMatch(read: () => string, re: RegExp, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const text = read();
    if (re.test(text)) return;
    if (performance.now() > deadline) throw new DeadlineError(`no match for ${re} within ${timeoutMs} ms:\n${text}`);
    await sleep(50);
  }
}

/** `ip -br addr` of `dev` inside `netns`, to see whether a VIP is assigned. */
export function addresses(netns: string, dev: string): string {
  return execFileSync('ip', ['-n', netns, '-br', 'addr', 'show', 'dev', dev], { encoding: 'utf8' });
}

/**
 * A tiny HTTP server inside `netns` (127.0.0.1:`port`) answering 200 on every path, standing in
 * for a ready GM leader; stopped after `t` unless stopped earlier.
 */
export function startReadyServer(t: TestContext, netns: string, port: number): ManagedProcess {
  const source = `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')`;
  const proc = spawnManaged({
    name: 'readyz server',
    cmd: 'ip',
    args: ['netns', 'exec', netns, process.execPath, '-e', source],
  });
  defer(t, () => proc.stop('SIGKILL'));
  return proc;
}
