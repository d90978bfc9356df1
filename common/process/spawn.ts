import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { onExit } from './on-exit.ts';

export interface ManagedProcess {
  readonly pid: number;
  readonly name: string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** True until the process has exited. */
  running(): boolean;
  /** Sends `signal` (default SIGTERM), waits up to `timeoutMs`, then SIGKILLs; resolves once gone. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
  /** Sends a signal without waiting (SIGSTOP, SIGCONT, SIGKILL...). */
  signal(sig: NodeJS.Signals): void;
}

export interface SpawnInit {
  name: string;
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr are appended here; default: discarded. */
  logFile?: string;
  /**
   * Kill the child when this process dies, even by SIGKILL (Linux parent-death signal through
   * util-linux `setpriv`). Default true; the detached `fedmesh envtest start` turns it off.
   */
  dieWithParent?: boolean;
  /** Own process group, not killed with ours, and not waited for. Default false. */
  detached?: boolean;
}

/** Starts a process that this process owns: logged, killable, and reaped on exit. */
export function spawnManaged(init: SpawnInit): ManagedProcess {
  const die = init.dieWithParent ?? !init.detached;
  const [cmd, args] = die
    ? ['setpriv', ['--pdeathsig', 'SIGKILL', '--', init.cmd, ...init.args]]
    : [init.cmd, init.args];
  const fd = init.logFile ? openSync(init.logFile, 'a') : 'ignore';
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, {
      env: init.env ?? process.env,
      cwd: init.cwd,
      stdio: ['ignore', fd, fd],
      detached: init.detached ?? false,
    });
  } finally {
    if (typeof fd === 'number') closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`failed to start ${init.name} (${init.cmd})`);
  const pid = child.pid;
  let alive = true;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, sig) => {
      alive = false;
      resolve(code ?? (sig as string));
    });
    child.once('error', () => {
      alive = false;
      resolve('spawn-error');
    });
  });
  const unregister = init.detached
    ? () => {}
    : onExit(() => {
        if (alive) process.kill(pid, 'SIGKILL');
      });
  if (init.detached) child.unref();
  void exited.then(unregister);
  return {
    pid,
    name: init.name,
    exited,
    running: () => alive,
    signal(sig) {
      if (alive) process.kill(pid, sig);
    },
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      if (!alive) return;
      process.kill(pid, signal);
      // A stopped process cannot act on SIGTERM until it is continued.
      if (signal !== 'SIGKILL') process.kill(pid, 'SIGCONT');
      const timer = setTimeout(() => {
        if (alive) process.kill(pid, 'SIGKILL');
      }, timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
