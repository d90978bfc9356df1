/**
 * Last-resort cleanup for whatever a process started (child processes, network namespaces, temp
 * dirs): synchronous hooks that run when the process exits, including on SIGINT/SIGTERM/SIGHUP
 * (an interrupted `node --test` run sends these to its file processes). Normal teardown still
 * happens in `t.after` or the sandbox's shutdown; these hooks only catch what an interrupted or
 * crashed run would otherwise leave behind.
 */
const hooks = new Set<() => void>();
let installed = false;

function runHooks(): void {
  for (const h of [...hooks].reverse()) {
    hooks.delete(h);
    try {
      h();
    } catch (err) {
      process.stderr.write(`cleanup hook failed: ${(err as Error).message}\n`);
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runHooks);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      // A program that handles this signal itself (the sandbox, a GM) shuts down on its own; the
      // 'exit' hook still catches whatever its shutdown leaves behind.
      if (process.listenerCount(sig) > 1) return;
      runHooks();
      // Re-raise with the default action so the exit status tells the parent how we ended.
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

/** Registers a synchronous cleanup; returns a function that unregisters it (after a normal teardown). */
export function onExit(hook: () => void): () => void {
  install();
  hooks.add(hook);
  return () => {
    hooks.delete(hook);
  };
}
