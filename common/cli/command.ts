import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.ts';

/** One flag of a command. Values arrive as strings and are validated by `parse`. */
export interface FlagSpec<T = unknown> {
  /** Shown in --help. */
  description: string;
  /** `boolean` flags take no value. Default `string`. */
  type?: 'string' | 'boolean';
  /** Placeholder in --help, e.g. `DIR`. */
  value?: string;
  /** Default shown in --help (and used when the flag is absent, unless `defaultValue` says otherwise). */
  default?: string;
  /** The command cannot run without it: absent, it is a ConfigError naming the flag. */
  required?: boolean;
  /** May be given more than once; the parser then receives each value. */
  multiple?: boolean;
  /** Converts and validates the raw text; throw ConfigError for a bad value. */
  parse?: (raw: string) => T;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** Extra text after the flag table (examples). */
  details?: string;
  flags?: Record<string, FlagSpec>;
  /** Names of positional arguments, for --help only. */
  positionals?: string;
  subcommands?: CommandSpec[];
  /** Runs the command with parsed flags; resolves to the process exit code. */
  run?: (ctx: CommandContext) => Promise<number>;
}

/** What `parse` returns, or the raw text when a flag has no parser. */
type Parsed<S> = S extends { parse: (raw: string) => infer T } ? T : string;

/**
 * The value a flag arrives as in `run`, derived from its spec: booleans are booleans; otherwise the
 * parsed value (a list when `multiple`), and `undefined` is possible only when there is no default
 * and the flag is not required.
 */
export type FlagValue<S extends FlagSpec> = S extends { type: 'boolean' }
  ? boolean
  :
      | (S extends { multiple: true } ? Parsed<S>[] : Parsed<S>)
      | (S extends { default: string } ? never : S extends { required: true } ? never : undefined);

/** The typed flags of a command with these specs. */
export type FlagValues<F extends Record<string, FlagSpec>> = { [K in keyof F]: FlagValue<F[K]> };

/** A leaf command whose `run` sees its flags typed from their specs (see `command`). */
export interface TypedCommand<F extends Record<string, FlagSpec>> extends Omit<CommandSpec, 'flags' | 'run'> {
  flags: F;
  run(ctx: { flags: FlagValues<F>; positionals: string[]; path: string }): Promise<number>;
}

/**
 * Declares a leaf command: the flag types `run` sees come from the specs themselves, so a flag's
 * type is written once (its `parse`), never again in a cast.
 */
export function command<const F extends Record<string, FlagSpec>>(spec: TypedCommand<F>): CommandSpec {
  return spec as unknown as CommandSpec;
}

export interface CommandContext {
  flags: Record<string, unknown>;
  positionals: string[];
  /** The full command path, e.g. `fedmesh envtest start`. */
  path: string;
}

/** Thrown for --help: carries the text to print and exit code 0. */
export class HelpRequested extends Error {
  readonly text: string;
  constructor(text: string) {
    super('help requested');
    this.name = 'HelpRequested';
    this.text = text;
  }
}

export function helpText(cmd: CommandSpec, path: string): string {
  const lines = [`${path} — ${cmd.summary}`, ''];
  if (cmd.subcommands?.length) {
    lines.push(`Usage: ${path} <command> [flags]`, '', 'Commands:');
    const w = Math.max(...cmd.subcommands.map((c) => c.name.length));
    for (const c of cmd.subcommands) lines.push(`  ${c.name.padEnd(w)}  ${c.summary}`);
    lines.push('', `Run '${path} <command> --help' for a command's flags.`);
  } else {
    lines.push(`Usage: ${path} [flags]${cmd.positionals ? ` ${cmd.positionals}` : ''}`);
  }
  const flags = Object.entries(cmd.flags ?? {});
  lines.push('', 'Flags:');
  const rows = flags.map(([name, f]) => [
    `--${name}${f.type === 'boolean' ? '' : ` ${f.value ?? 'VALUE'}`}`,
    `${f.description}${f.default !== undefined ? ` (default: ${f.default})` : ''}`,
  ]);
  rows.push(['-h, --help', 'show this help']);
  const w = Math.max(...rows.map((r) => (r[0] as string).length));
  for (const [a, b] of rows) lines.push(`  ${(a as string).padEnd(w)}  ${b}`);
  if (cmd.details) lines.push('', cmd.details);
  return lines.join('\n');
}

/**
 * Resolves `argv` against a command tree and parses the leaf's flags strictly: unknown flags,
 * missing values and invalid values are ConfigErrors naming the flag.
 */
export function resolve(root: CommandSpec, argv: string[]): { cmd: CommandSpec; ctx: CommandContext } {
  let cmd = root;
  let path = root.name;
  let rest = argv;
  while (cmd.subcommands?.length) {
    const [first, ...tail] = rest;
    if (first === undefined || first === '-h' || first === '--help') {
      throw new HelpRequested(helpText(cmd, path));
    }
    const next = cmd.subcommands.find((c) => c.name === first);
    if (next === undefined) {
      throw new ConfigError(`unknown command "${first}" for "${path}"; run '${path} --help'`);
    }
    cmd = next;
    path = `${path} ${next.name}`;
    rest = tail;
  }
  const specs = cmd.flags ?? {};
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, f] of Object.entries(specs)) {
    options[name] = { type: f.type ?? 'string', multiple: f.multiple ?? false };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: rest, options, strict: true, allowPositionals: cmd.positionals !== undefined });
  } catch (err) {
    throw new ConfigError(`${path}: ${(err as Error).message}; run '${path} --help'`, { cause: err });
  }
  if (parsed.values.help) throw new HelpRequested(helpText(cmd, path));
  const flags: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(specs)) {
    let raw = parsed.values[name] as string | boolean | string[] | undefined;
    if (raw === undefined && f.default !== undefined && f.type !== 'boolean')
      raw = f.multiple ? [f.default] : f.default;
    if (raw === undefined && f.required) throw new ConfigError(`${path}: --${name} is required`);
    if (raw === undefined || typeof raw === 'boolean') {
      flags[name] = raw ?? (f.type === 'boolean' ? false : undefined);
      continue;
    }
    const convert = (v: string): unknown => {
      if (!f.parse) return v;
      try {
        return f.parse(v);
      } catch (err) {
        throw new ConfigError(`${path}: invalid value "${v}" for --${name}: ${(err as Error).message}`, { cause: err });
      }
    };
    flags[name] = Array.isArray(raw) ? raw.map(convert) : convert(raw);
  }
  return { cmd, ctx: { flags, positionals: parsed.positionals, path } };
}

/** Runs a command tree the way a process should: help to stdout (0), errors to stderr (2). */
export async function runCli(root: CommandSpec, argv: string[]): Promise<number> {
  let resolved: ReturnType<typeof resolve>;
  try {
    resolved = resolve(root, argv);
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(`${err.text}\n`);
      return 0;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (!resolved.cmd.run) throw new Error(`command ${resolved.ctx.path} has no run()`);
  try {
    return await resolved.cmd.run(resolved.ctx);
  } catch (err) {
    if (err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_')) {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      return err instanceof ConfigError ? 2 : 1;
    }
    throw err;
  }
}
