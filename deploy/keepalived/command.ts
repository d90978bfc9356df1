import { readFileSync } from 'node:fs';
import { type CommandSpec, command } from '../../common/cli/command.ts';
import { parseYamlOrJson } from '../../common/config-text.ts';
import { parseDuration } from '../../common/duration.ts';
import { createLogger } from '../../common/log.ts';
import { runReadinessFileLoop } from './readiness-file.ts';
import { renderKeepalivedConf, validateKeepalivedInit } from './render.ts';

/** `fedmesh keepalived ...`: render a node's keepalived.conf; feed a sub-second track_file. */
export const keepalivedCommand: CommandSpec = {
  name: 'keepalived',
  summary: 'keepalived beside the GM: render keepalived.conf, run the sub-second readiness feeder',
  subcommands: [
    command({
      name: 'render',
      summary: 'render keepalived.conf from typed options (JSON or YAML) to stdout',
      flags: {
        config: {
          description: 'options file (KeepalivedInit, see deploy/keepalived/README.md)',
          value: 'FILE',
          required: true,
        },
      },
      details: 'Gate the result on the real thing: keepalived -e -t -f FILE',
      async run({ flags }) {
        const file = flags.config;
        const opts = await parseYamlOrJson(readFileSync(file, 'utf8'), file);
        validateKeepalivedInit(opts);
        process.stdout.write(renderKeepalivedConf(opts));
        return 0;
      },
    }),
    command({
      name: 'readiness-file',
      summary: "poll the GM's /readyz and keep keepalived's track_file current (0 ready, 1 not) until SIGTERM",
      flags: {
        url: { description: 'readiness URL', value: 'URL', default: 'http://127.0.0.1:8080/readyz' },
        path: { description: 'track_file path (the file readiness check)', value: 'FILE', required: true },
        interval: { description: 'poll interval', value: 'DURATION', default: '200ms', parse: parseDuration },
      },
      async run({ flags }) {
        const file = flags.path;
        const ac = new AbortController();
        for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => ac.abort());
        await runReadinessFileLoop({
          url: flags.url,
          path: file,
          intervalMs: flags.interval,
          signal: ac.signal,
          log: createLogger({ component: 'keepalived.readiness' }),
        });
        return 0;
      },
    }),
  ],
};
