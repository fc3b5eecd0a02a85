/**
 * `anvil admin rotate-master-key`: re-encrypts every stored secret and
 * re-wraps every blob data key under the primary master key; optionally
 * installs a new data-folder key first, or drops the previous ones after.
 * Needs the database and the data folder, never the backends.
 */
import type { Command } from 'commander';

import { masterKeyFileOf } from '../../config/advice.js';
import { loadConfig } from '../../config/config.js';
import { blobKeysByMasterKey, dropPreviousMasterKeys, installNewMasterKey, rewrapBlobKeys } from '../../core/master-key-rotation.js';
import { describeDeployment, openControlPlane } from '../../node/control-plane.js';
import { overridesFrom } from '../flags.js';
import type { GlobalOpts } from './action.js';
import { print } from './print.js';

export function registerMasterKeyCommand(admin: Command): void {
  admin
    .command('rotate-master-key')
    .description(
      're-encrypt every stored secret under the primary master key; with --generate, first make a new data-folder key ' +
        '(the old one stays in master.key.previous so running servers keep working)',
    )
    .option(
      '--generate',
      'install a new master.key in the data folder first (not with ANVIL_MASTER_KEY: set the new key there and the old one in ANVIL_PREVIOUS_MASTER_KEYS)',
    )
    .option('--drop-previous', 'afterwards, delete master.key.previous if no secret is still under an old key (restart every server first)')
    .action(async (cmdOpts: { generate?: boolean; dropPrevious?: boolean }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOpts & Record<string, string | undefined>>();
      const config = loadConfig(overridesFrom(opts));
      let installed: { previousId: string; newId: string } | undefined;
      if (cmdOpts.generate) {
        if (config.masterKey)
          throw new Error(
            'ANVIL_MASTER_KEY is configured: put the new key there and the old one in ANVIL_PREVIOUS_MASTER_KEYS, then run without --generate',
          );
        installed = installNewMasterKey(config.dataDir, masterKeyFileOf(config));
      }
      const plane = await openControlPlane(config);
      process.stderr.write(`${describeDeployment(config, plane)}\n`);
      try {
        const rewritten = await plane.tenants.reencryptSecrets();
        const blobKeysRewrapped = await rewrapBlobKeys(plane.meta.data, plane.keyring);
        const byKey = await plane.tenants.secretsByMasterKey();
        const blobKeys = await blobKeysByMasterKey(plane.meta.data);
        const primary = plane.tenants.primaryMasterKeyId;
        const leftovers = [...new Set([...Object.keys(byKey), ...Object.keys(blobKeys)])].filter((id) => id !== primary);
        let dropped = false;
        if (cmdOpts.dropPrevious) {
          if (leftovers.length > 0)
            throw new Error(`secrets are still under ${leftovers.join(', ')}; restart every server, run again, then drop`);
          if (config.masterKey) throw new Error('with ANVIL_MASTER_KEY, remove ANVIL_PREVIOUS_MASTER_KEYS from the configuration instead');
          dropped = dropPreviousMasterKeys(config.dataDir, masterKeyFileOf(config));
        }
        const result = {
          primary,
          installed: installed ?? null,
          rewritten,
          secretsByMasterKey: byKey,
          blobKeysRewrapped,
          blobKeysByMasterKey: blobKeys,
          previousDropped: dropped,
        };
        print(
          Boolean(opts.json),
          result,
          `${installed ? `new master key ${installed.newId} installed (previous ${installed.previousId} kept in master.key.previous)\n` : ''}` +
            `re-encrypted ${rewritten} secrets and re-wrapped ${blobKeysRewrapped} blob data keys under ${primary}` +
            (leftovers.length
              ? `\nstill under older keys (written by servers not yet restarted): ${leftovers.map((id) => `${id}=${(byKey[id] ?? 0) + (blobKeys[id] ?? 0)}`).join(', ')}`
              : '') +
            (dropped ? '\nmaster.key.previous removed' : ''),
        );
      } finally {
        await plane.meta.close();
      }
    });
}
