/**
 * A TCP proxy that loses answers: requests pass through to the server, but
 * the connection of a chosen request is cut when its response starts to come
 * back, so the server did the work and the client never hears of it (what a
 * client sees when a network path dies after the server committed).
 */
import net from 'node:net';

export interface LossyProxy {
  /** http://host:port of the proxy. */
  endpoint: string;
  /** Responses cut so far. */
  dropped: number;
  close(): Promise<void>;
}

/**
 * Proxies to `target` (http://host:port) and cuts the response of the first
 * `times` requests whose head (request line and headers, latin1) `lose` picks.
 */
export async function startLossyProxy(target: string, lose: (head: string) => boolean, times = 1): Promise<LossyProxy> {
  const { hostname, port } = new URL(target);
  const open = new Set<net.Socket>();
  let left = times;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
    }
    let cut = false;
    client.on('data', (chunk: Buffer) => {
      // A request's head starts a chunk (clients write it in one go); bodies are never mistaken
      // for one here because only heads with a method and an HTTP version are looked at.
      const head = chunk.toString('latin1', 0, Math.min(chunk.length, 4096));
      if (left > 0 && /^[A-Z]+ \S+ HTTP\/1\.1\r\n/.test(head) && lose(head)) {
        left--;
        cut = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cut) {
        proxy.dropped++;
        cut = false;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: LossyProxy = {
    endpoint: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    dropped: 0,
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
