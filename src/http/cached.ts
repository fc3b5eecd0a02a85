/**
 * A value read from somewhere slow (the database, the disk), kept for a
 * short while so that a storm of probes or scrapes costs one read per
 * period: callers within `ttlMs` of the last read share its answer, and
 * callers while a read is running share that read (never two at once).
 *
 * get(waitMs) bounds how long a caller waits for a fresh read: past it the
 * caller gets the previous answer (or undefined before the first), and the
 * read goes on in the background and lands for the next caller. A failed
 * read keeps the previous answer and reports through onError.
 */
export class Cached<T> {
  private current: { value: T; at: number } | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly ttlMs: number,
    private readonly onError: (err: unknown) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** When the value was read (epoch ms), or undefined before the first successful read. */
  get readAt(): number | undefined {
    return this.current?.at;
  }

  async get(waitMs = Infinity): Promise<T | undefined> {
    if (this.current && this.now() - this.current.at < this.ttlMs) return this.current.value;
    this.running ??= this.refresh();
    if (waitMs === Infinity) await this.running;
    else {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.running, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
      clearTimeout(timer);
    }
    return this.current?.value;
  }

  private async refresh(): Promise<void> {
    try {
      const value = await this.load();
      this.current = { value, at: this.now() };
    } catch (err) {
      this.onError(err);
    } finally {
      this.running = undefined;
    }
  }
}
