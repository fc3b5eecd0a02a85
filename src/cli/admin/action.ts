/**
 * Command actions: pick the door from the global flags (--endpoint: the
 * admin API; otherwise the database), run the command, close what was
 * opened.
 */
import fs from 'node:fs';

import type { Command } from 'commander';

import { loadConfig } from '../../config/config.js';
import { parsePolicies, type PolicyStatement } from '../../core/policy.js';
import type { NodeContext } from '../../node/assemble.js';
import { AdminClient } from '../admin-client.js';
import { overridesFrom } from '../flags.js';
import { directDoor, withAdminNode } from './direct.js';
import type { AdminDoor } from './door.js';
import { remoteDoor } from './remote.js';

export interface GlobalOpts {
  json?: boolean;
  endpoint?: string;
  authAccessKey?: string;
  authSecretKey?: string;
  region?: string;
}

function remoteClient(opts: GlobalOpts): AdminClient | null {
  const endpoint = opts.endpoint ?? process.env.ANVIL_ENDPOINT;
  if (!endpoint) return null;
  const accessKeyId = opts.authAccessKey ?? process.env.ANVIL_ACCESS_KEY ?? process.env.ANVIL_ROOT_ACCESS_KEY;
  const secretAccessKey = opts.authSecretKey ?? process.env.ANVIL_SECRET_KEY ?? process.env.ANVIL_ROOT_SECRET_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new Error('--endpoint needs an access key: --auth-access-key and --auth-secret-key (env ANVIL_ACCESS_KEY, ANVIL_SECRET_KEY)');
  }
  const region = opts.region ?? process.env.ANVIL_REGION ?? 'us-east-1';
  return new AdminClient({ endpoint, accessKeyId, secretAccessKey, region });
}

/** Commander passes the command's arguments, then its options, then the command itself. */
function split(args: any[]): { cmd: Command; opts: GlobalOpts & Record<string, string | undefined>; rest: any[] } {
  const cmd = args[args.length - 1] as Command;
  return { cmd, opts: cmd.optsWithGlobals(), rest: args.slice(0, -1) };
}

/** A command both doors serve: through the admin API with --endpoint, else against the database. */
export function action(run: (door: AdminDoor, json: boolean, ...args: any[]) => Promise<void>) {
  return async (...args: any[]) => {
    const { opts, rest } = split(args);
    const json = Boolean(opts.json);
    const client = remoteClient(opts);
    if (client) {
      await run(remoteDoor(client), json, ...rest);
      return;
    }
    await withAdminNode(loadConfig(overridesFrom(opts)), (node) => run(directDoor(node), json, ...rest));
  };
}

/** A command that needs the database (the queues, the scrub's results): refused with --endpoint. */
export function directAction(run: (node: NodeContext, json: boolean, ...args: any[]) => Promise<void>) {
  return async (...args: any[]) => {
    const { cmd, opts, rest } = split(args);
    if (remoteClient(opts)) throw new Error(`\`${cmd.name()}\` needs the database; it is not available with --endpoint`);
    await withAdminNode(loadConfig(overridesFrom(opts)), (node) => run(node, Boolean(opts.json), ...rest));
  };
}

/** `--policy '[…]'` or `--policy @file.json`: policy statements, validated. */
export function readPolicies(value: string | undefined): PolicyStatement[] | undefined {
  if (value === undefined) return undefined;
  const text = value.startsWith('@') ? fs.readFileSync(value.slice(1), 'utf8') : value;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('--policy must be a JSON array of statements (or @file)');
  }
  return parsePolicies(parsed);
}

/** A quota option: a size (`10GiB`) or count, or `none` (no limit: null); absent: unchanged. */
export function quotaOption(name: string, value: string | undefined, parse: (v: string) => number): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'none' || value === 'unlimited') return null;
  try {
    return parse(value);
  } catch (err) {
    throw new Error(`${name}: ${(err as Error).message}, or "none"`, { cause: err });
  }
}

/** A whole number from 0. */
export function parseObjects(v: string): number {
  if (!/^\d+$/.test(v)) throw new Error(`invalid count ${JSON.stringify(v)} (a whole number)`);
  return Number(v);
}
