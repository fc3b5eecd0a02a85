import fs from 'node:fs';

/** Anvil's version, from package.json (two levels above src/node/ and dist/node/). */
export const VERSION: string = (() => {
  try {
    return JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version ?? 'unknown';
  } catch {
    // A missing or unreadable package.json (an unusual install) only costs the version string.
    return 'unknown';
  }
})();
