/**
 * The node's health epoch: its incarnation number, kept in a file in the state dir and bumped at
 * every start, before the first view is signed.
 *
 * Context: a receiver orders a voter's views by (epoch, seq) and refuses one not newer than the
 * last it accepted (ballot.ts), so a view recorded by an attacker cannot be replayed. `seq`
 * restarts at 0 with the process; the epoch must therefore grow at every start, or a restarted
 * node's views would be refused as replays until its seq overtook the old one.
 *
 * Decision: a counter in `<stateDir>/health-epoch`, read, incremented and written back (temporary
 * file, fsync, rename) before the prober starts. Not the wall clock: edge boxes without an RTC or
 * NTP boot in 1970 or step their clock backwards, and a smaller epoch would silence the node for
 * as long as its peers remember it. One disk write per start, none per period. The identity key
 * lives in the same directory, so a node that loses its state dir also loses its key: its peers
 * then refuse it as a name conflict anyway — the epoch cannot go backwards under the same key
 * unless the file alone is lost or corrupted.
 *
 * Consequences: a missing file starts at 1 (a first start). An unreadable or corrupt file is not
 * guessed from: the epoch becomes the wall clock in seconds (far above any start count, so
 * larger than what peers remember unless the clock is badly behind) and is logged; the counter
 * continues from there. A file that cannot be written fails the start: signing views under an
 * epoch that the next start would reuse is exactly the replay window the epoch closes.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../common/log.ts';

export const EPOCH_FILE = 'health-epoch';

/** Reads the last epoch, stores and returns the next one. Throws when it cannot be stored. */
export async function bumpEpoch(
  stateDir: string,
  components: { log?: Logger; wall?: () => number } = {},
): Promise<number> {
  const path = join(stateDir, EPOCH_FILE);
  let last = 0;
  try {
    const text = (await readFile(path, 'utf8')).trim();
    if (!/^\d{1,15}$/.test(text)) throw new Error(`not a number: ${JSON.stringify(text.slice(0, 32))}`);
    last = Number(text);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      last = Math.floor((components.wall ?? Date.now)() / 1000);
      components.log?.warn({ err, path, epoch: last + 1 }, 'health epoch file unreadable; continuing from the clock');
    }
  }
  const next = last + 1;
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(`${next}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  return next;
}
