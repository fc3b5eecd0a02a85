/**
 * Runs s3rver (npm, a filesystem-backed S3 emulator) as a peer, in its own
 * process. Credentials are s3rver's fixed S3RVER / S3RVER.
 *
 * Usage: node --import tsx bench/s3rver-server.ts <port> <dataDir>
 * Prints "READY <port>" on stdout once listening.
 */
import S3rver from 's3rver';

const port = Number(process.argv[2] ?? 0);
const directory = process.argv[3] ?? './s3rver-data';
const server = new S3rver({ address: '127.0.0.1', port, directory, silent: true, vhostBuckets: false });
// Koa app: report handler errors (s3rver answers them as InternalError).
(server as unknown as { on(ev: 'error', fn: (err: Error) => void): void }).on('error', (err) => {
  process.stderr.write(`s3rver error: ${err.stack ?? String(err)}\n`);
});
const { port: bound } = await server.run();
process.stdout.write(`READY ${bound}\n`);
const stop = (): void => {
  void server.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
