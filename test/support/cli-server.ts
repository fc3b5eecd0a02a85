/** `node bin/anvil.js server` as an operator runs it (bin/anvil.js uses dist/: npm run build first). */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export const BIN = path.resolve('bin/anvil.js');

export interface Started {
  child: ChildProcess;
  output: string;
  endpoint: string;
}

function spawnServer(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [BIN, 'server'], {
    env: { ...process.env, ANVIL_LISTEN: '127.0.0.1:0', ANVIL_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Starts a server and resolves once it printed its endpoint and root key. */
export function startServer(env: Record<string, string>): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawnServer(env);
    let output = '';
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 60_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      const m = /Anvil listening on (http:\/\/\S+)/.exec(output);
      if (m && /root access key: \S+\n/.test(output)) {
        clearTimeout(timer);
        setTimeout(() => resolve({ child, output, endpoint: m[1] }), 100);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
}

/** Runs a server that is expected to stop by itself (a refused start): its exit code and output. */
export function runServerToExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnServer(env);
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not exit:\n${output}`));
    }, 60_000);
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export async function stopServer(s: Started, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  s.child.removeAllListeners('exit');
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill(signal);
  await exited;
}
