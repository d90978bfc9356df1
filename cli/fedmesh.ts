#!/usr/bin/env node
/**
 * fedmesh — one command, `fedmesh <component> [flags]`. Each component contributes its own
 * command spec; this file only wires them and turns the result into an exit code.
 */
import { type CommandSpec, runCli } from '../common/cli/command.ts';
import { keepalivedCommand } from '../deploy/keepalived/command.ts';
import { gmCommand } from '../gm/command.ts';
import { lcCommand } from '../lc/command.ts';
import { meshCommand } from '../mesh/command.ts';
import { envtestCommand } from './envtest.ts';
import { sandboxCommand } from './sandbox.ts';

const root: CommandSpec = {
  name: 'fedmesh',
  summary: 'a highly available Sedna-style edge-AI control plane',
  subcommands: [gmCommand, lcCommand, meshCommand, keepalivedCommand, sandboxCommand, envtestCommand],
};

process.exitCode = await runCli(root, process.argv.slice(2));
