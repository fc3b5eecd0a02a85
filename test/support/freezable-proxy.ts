/**
 * A real TCP proxy in front of a server, which a test can freeze: from a
 * chosen byte of the answers on, it forwards nothing in either direction
 * and keeps every connection open, as a server whose process hung (or whose
 * network path went dark) would. It also records what passed: connections
 * accepted and the request lines clients sent, so a test can tell whether
 * the server behind it was touched at all.
 */
import net from 'node:net';

export class FreezableProxy {
  /** Connections accepted so far. */
  connections = 0;
  /** Request lines seen from clients ("GET /bucket/key HTTP/1.1"), frozen or not. */
  readonly requests: string[] = [];
  /** Answer bytes still allowed through; Infinity while not frozen. */
  private budget = Infinity;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly endpoint: string,
  ) {}

  static async start(target: string): Promise<FreezableProxy> {
    const { hostname, port } = new URL(target);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new FreezableProxy(server, `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    server.on('connection', (client) => proxy.accept(client, hostname, Number(port)));
    return proxy;
  }

  /** Lets `bytes` more answer bytes through (over all connections), then freezes. 0 freezes now. */
  freezeAfter(bytes: number): void {
    this.budget = bytes;
  }

  /** Forwards again; connections held while frozen are cut, as a restarted server would. */
  thaw(): void {
    this.budget = Infinity;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  get frozen(): boolean {
    return this.budget === 0;
  }

  /** How many recorded requests match. */
  count(pattern: RegExp): number {
    return this.requests.filter((r) => pattern.test(r)).length;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }

  private accept(client: net.Socket, host: string, port: number): void {
    this.connections++;
    const upstream = net.connect(port, host);
    const pair = [client, upstream];
    for (const s of pair) {
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.sockets.delete(s);
        for (const other of pair) other.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      for (const m of chunk.toString('latin1').matchAll(/^(GET|PUT|HEAD|POST|DELETE) \S+ HTTP\/1\.[01]\r$/gm))
        this.requests.push(m[0].trimEnd());
      if (this.budget > 0) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (this.budget === Infinity) {
        client.write(chunk);
        return;
      }
      // Frozen from here on: what the server sends past the budget is never delivered.
      const pass = Math.min(this.budget, chunk.length);
      if (pass > 0) client.write(chunk.subarray(0, pass));
      this.budget -= pass;
    });
  }
}
