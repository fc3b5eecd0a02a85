/**
 * Configuration reload (SIGHUP, `anvil.reload(config)`): each part of a
 * running node that can take new settings without a restart registers a
 * Reloadable naming the settings it applies; everything else that changed
 * is reported as needing a restart, and keeps its running value.
 *
 * Settings are named by their path in the config file (src/config/describe.ts:
 * `log_level`, `backends.disk2.quota`, `rate_limit_per_key`…). To make a
 * setting reloadable, register a Reloadable for it (app.ts), e.g.
 *
 *   anvil.reloader.add({ name: 'rate limits', settings: /^rate_limit_/, apply: (c) => rateLimit.update(c) });
 */
import type { Config } from '../config/config.js';
import { changedSettings } from '../config/describe.js';

export interface Reloadable {
  /** What it is, for the log. */
  name: string;
  /** The settings it applies, by config-file path. */
  settings: RegExp;
  /** Takes the new configuration; called only when one of its settings changed. */
  apply(next: Config): void | Promise<void>;
}

export interface ReloadReport {
  /** Settings that changed and are now in effect. */
  applied: string[];
  /** Settings that differ from what the process started with and need a restart to apply (their running values stay). */
  needRestart: string[];
}

export class Reloader {
  private readonly parts: Reloadable[] = [];
  /** The configuration last applied (the reloadable settings in effect). */
  private applied: Config;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly started: Config) {
    this.applied = started;
  }

  add(part: Reloadable): void {
    this.parts.push(part);
  }

  private live(setting: string): boolean {
    return this.parts.some((p) => p.settings.test(setting));
  }

  /** Applies what can change live; one reload at a time, in order. */
  reload(next: Config): Promise<ReloadReport> {
    const run = async (): Promise<ReloadReport> => {
      const applied = changedSettings(this.applied, next).filter((s) => this.live(s));
      for (const part of this.parts) if (applied.some((s) => part.settings.test(s))) await part.apply(next);
      this.applied = next;
      const needRestart = changedSettings(this.started, next).filter((s) => !this.live(s));
      return { applied, needRestart };
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }
}
