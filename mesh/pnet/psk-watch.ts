/**
 * Follows the PSK file while the node runs, so a rotation needs no restart: its directory is
 * watched (a Kubernetes Secret volume swaps a `..data` symlink, editors replace the file), and the
 * caller also re-reads it on SIGHUP and on every config reload (`reload`). A file that cannot be
 * read or parsed is logged and ignored: the running keys stay.
 */
import { watch } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from '../../common/log.ts';
import type { PskKeyRing } from './keyring.ts';
import { readPskKeysFile } from './psk.ts';

export interface PskWatch {
  /** Re-reads the file now (and applies `windowMs` when given). */
  reload(why: string, windowMs?: number): Promise<void>;
  close(): void;
}

export function watchPskFile(path: string, ring: PskKeyRing, log: Logger): PskWatch {
  const full = resolve(path);
  let timer: NodeJS.Timeout | undefined;
  let windowMs: number | undefined;
  const reload = async (why: string, nextWindowMs?: number) => {
    if (nextWindowMs !== undefined) windowMs = nextWindowMs;
    try {
      ring.update(await readPskKeysFile(full), windowMs);
    } catch (err) {
      log.error(
        { err: (err as Error).message, code: 'ERR_PSK_FILE', why },
        'PSK file not reloaded: invalid; keeping the running keys',
      );
    }
  };
  // Any change in the directory: a Secret volume's file name never changes, its `..data` link does.
  const watcher = watch(dirname(full), () => {
    clearTimeout(timer);
    timer = setTimeout(() => void reload('PSK file changed'), 100);
  });
  return {
    reload,
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
