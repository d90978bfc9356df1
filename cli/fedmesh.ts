#!/usr/bin/env node
/**
 * fedmesh — one command, `fedmesh <component> [flags]`. Each component contributes its own
 * command spec; this file only wires them and turns the result into an exit code.
 */
import { type CommandSpec, runCli } from '../common/cli/command.ts';
import { configuredCluster } from '../common/kube/access.ts';
import { components } from './components.ts';

let argv = process.argv.slice(2);
// `fedmesh` alone: with a cluster configured there is nothing to guess, so help; with none, the
// local sandbox, which is what a newcomer running it for the first time wants to see.
if (argv.length === 0 && configuredCluster() === undefined) {
  process.stderr.write(
    "fedmesh: no cluster configured (not in a pod, no $KUBECONFIG): starting the local sandbox ('fedmesh --help' lists the commands)\n",
  );
  argv = ['sandbox'];
}
const only = Object.hasOwn(components, argv[0] ?? '') ? components[argv[0] as string] : undefined;
const root: CommandSpec = {
  name: 'fedmesh',
  summary: 'a highly available Sedna-style edge-AI control plane',
  // All of them only for the root's help and its unknown-command error.
  subcommands: only ? [await only()] : await Promise.all(Object.values(components).map((load) => load())),
};

process.exitCode = await runCli(root, argv);
