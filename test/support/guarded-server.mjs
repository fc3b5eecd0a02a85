// A real Anvil (from dist/) with the process guard installed, as `anvil server`
// runs it, plus one injected bug: requests for bucket "boom" throw from a
// detached callback (an error no try/catch can reach), the kind of bug the
// guard exists for. Prints the endpoint as JSON on stdout.
import pino from 'pino';
import { loadConfig } from '../../dist/config/config.js';
import { startAnvil } from '../../dist/app.js';
import { installProcessGuard } from '../../dist/http/process-guard.js';

const [dataDir, databaseUrl, accessKey, secretKey] = process.argv.slice(2);
const log = pino({ level: 'error' }, pino.destination(2));
installProcessGuard(log);
const config = loadConfig(
  { listen: '127.0.0.1:0', dataDir, databaseUrl, rootAccessKey: accessKey, rootSecretKey: secretKey, logLevel: 'error' },
  {},
);
const anvil = await startAnvil(config, log);
const get = anvil.services.buckets.get.bind(anvil.services.buckets);
anvil.services.buckets.get = (name) => {
  if (name === 'boom') {
    return new Promise(() => {
      setImmediate(() => {
        throw new Error('injected bug');
      });
    });
  }
  if (name === 'reject') {
    // A promise nobody awaits rejects, and the request waits for an answer that never comes.
    void Promise.reject(new Error('injected rejection'));
    return new Promise(() => {});
  }
  return get(name);
};
process.stdout.write(JSON.stringify({ endpoint: anvil.endpoint }) + '\n');
