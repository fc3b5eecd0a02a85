/**
 * What `anvil server` prints once it listens. On the first start (when the
 * root secret was just generated and is shown this once) it adds lines to
 * paste: the AWS_* variables the aws CLI, boto3 and the SDKs read, and one
 * command each that saves the endpoint and key for the aws CLI, rclone,
 * s3cmd and mc. README § Using it with common clients has the same, longer.
 */
import type { Anvil } from '../app.js';
import type { Config } from '../config/config.js';

/** A word the shell reads back as itself. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The endpoint a client on this host uses: a wildcard listen address (0.0.0.0, ::) is reached on loopback. */
export function clientEndpoint(endpoint: string): string {
  const u = new URL(endpoint);
  if (u.hostname === '0.0.0.0') u.hostname = '127.0.0.1';
  if (u.hostname === '[::]') u.hostname = '[::1]';
  return u.origin;
}

/** The ready-to-paste lines for a key (README § Using it with common clients). */
export function clientSnippets(endpoint: string, region: string, accessKeyId: string, secret: string): string[] {
  const [e, r, id, key] = [clientEndpoint(endpoint), region, accessKeyId, secret].map(shellQuote);
  const hostPort = shellQuote(new URL(clientEndpoint(endpoint)).host);
  const https = new URL(endpoint).protocol === 'https:';
  return [
    'Paste into a shell (the aws CLI, boto3 and the AWS SDKs read these):',
    `  export AWS_ACCESS_KEY_ID=${id}`,
    `  export AWS_SECRET_ACCESS_KEY=${key}`,
    `  export AWS_ENDPOINT_URL=${e}`,
    `  export AWS_REGION=${r} AWS_DEFAULT_REGION=${r}`,
    '  aws s3 mb s3://my-bucket && aws s3 ls',
    'Or save them for a client (profile / remote / alias "anvil"):',
    `  aws configure set aws_access_key_id ${id} --profile anvil && aws configure set aws_secret_access_key ${key} --profile anvil && ` +
      `aws configure set region ${r} --profile anvil && aws configure set endpoint_url ${e} --profile anvil`,
    `  rclone config create anvil s3 provider=Other endpoint=${e} access_key_id=${id} secret_access_key=${key} region=${r}`,
    `  s3cmd --access_key=${id} --secret_key=${key} --host=${hostPort} --host-bucket=${hostPort} --region=${r} ` +
      `${https ? '--ssl' : '--no-ssl'} --dump-config > ~/.s3cfg`,
    `  mc alias set anvil ${e} ${id} ${key}`,
  ];
}

export function startBanner(anvil: Anvil, config: Config): string {
  const lines = [
    `Anvil listening on ${anvil.endpoint}  (region ${config.region}, data in ${config.dataDir})`,
    `  metadata: ${anvil.meta.kind}`,
    ...(anvil.consoleUrl ? [`  console: ${clientEndpoint(anvil.consoleUrl)}${new URL(anvil.consoleUrl).pathname}`] : []),
    `  root access key: ${anvil.root.accessKeyId}`,
  ];
  if (anvil.root.secretAccessKey) {
    lines.push(`  root secret key: ${anvil.root.secretAccessKey}`);
    lines.push(`  (saved to ${anvil.root.file}; it will not be printed again)`);
    lines.push('', ...clientSnippets(anvil.endpoint, config.region, anvil.root.accessKeyId, anvil.root.secretAccessKey), '');
  } else if (!config.rootAccessKey) {
    lines.push(`  root secret key: see ${anvil.root.file}`);
  }
  return lines.join('\n') + '\n';
}
