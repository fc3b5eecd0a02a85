/** How `anvil admin` prints answers: one function per kind of answer, the same for both doors (`--json` prints the value itself). */
import type { BucketDeletion, BucketView, KeyVersionsPage } from '../../admin/ops/buckets.js';
import type { CreatedKey } from '../../admin/ops/keys.js';
import type { ServerStatus } from '../../admin/ops/status.js';
import type { TenantView } from '../../admin/ops/tenants.js';
import type { UserView } from '../../admin/ops/users.js';
import type { BackendInfo, BackendList, DrainResult, RebalanceResult, RemoveResult, UndrainResult } from '../../blobs/index.js';
import type { Quota } from '../../core/objects/quota.js';
import type { AccessKeyInfo, Tenant } from '../../core/tenants.js';
import type { BucketReplication } from './door.js';

export function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write((json ? JSON.stringify(value, null, 2) : text) + '\n');
}

export function printTenant(json: boolean, t: Tenant): void {
  print(json, t, `created tenant ${t.name} (id ${t.id}, canonical id ${t.canonicalId})`);
}

/** `used / quota` of bytes and of objects (`unlimited` without one). */
function quotaLine(q: Quota, used?: { bytes: number; objects: number }): string {
  const of = (n: number | null, fmt: (n: number) => string) => (n === null ? 'unlimited' : fmt(n));
  const bytes = `${used ? `${humanBytes(used.bytes)} / ` : ''}${of(q.bytes, humanBytes)}`;
  const objects = `${used ? `${used.objects} / ` : ''}${of(q.objects, String)} objects`;
  return `${bytes}, ${objects}`;
}

/** A rate limit as set: its own, `default` (null) or `unlimited` (0). */
function rateLine(perSecond: number | null, burst: number | null): string {
  const rate = perSecond === null ? 'default' : perSecond === 0 ? 'unlimited' : `${perSecond}/s`;
  return burst === null ? rate : `${rate}, burst ${burst}`;
}

export function printTenants(json: boolean, list: TenantView[]): void {
  print(json, list, list.map((t) => `${t.name}\t${t.id}\t${t.canonicalId}\t${quotaLine(t.quota, t.usage)}`).join('\n'));
}

/** `anvil admin tenant show|set-quota|set-rate-limit`: ids, quota with usage, rate limits. */
export function printTenantDetails(json: boolean, t: TenantView): void {
  const r = t.rateLimit;
  const lines = [
    `tenant ${t.name}  id ${t.id}  canonical id ${t.canonicalId}`,
    `storage:         ${quotaLine(t.quota, t.usage)}`,
    `rate (tenant):   ${rateLine(r.requestsPerSecond, r.burst)}`,
    `rate (per key):  ${rateLine(r.perKeyRequestsPerSecond, r.perKeyBurst)}`,
  ];
  print(json, t, lines.join('\n'));
}

/** The created key as `anvil admin key create` prints it (name and policies only when set). */
export function printCreatedKey(json: boolean, k: CreatedKey): void {
  const out = {
    accessKeyId: k.accessKeyId,
    secretAccessKey: k.secretAccessKey,
    tenant: k.tenant,
    ...(k.name ? { name: k.name } : {}),
    ...(k.policies ? { policies: k.policies } : {}),
  };
  const extra = [
    out.name ? `\nname:          ${out.name}` : '',
    out.policies ? `\npolicies:      ${JSON.stringify(out.policies)}` : '',
  ].join('');
  print(json, out, `access key id: ${out.accessKeyId}\nsecret key:    ${out.secretAccessKey}\ntenant:        ${out.tenant}${extra}`);
}

export function printKeys(json: boolean, keys: AccessKeyInfo[]): void {
  print(json, keys, keys.map((k) => `${k.accessKeyId}\t${k.tenant}\t${new Date(k.createdAt).toISOString()}`).join('\n'));
}

export function printCreatedUser(json: boolean, u: UserView, generated: string | undefined): void {
  print(
    json,
    generated ? { ...u, password: generated } : u,
    `created user ${u.email} (${u.role}, id ${u.id}) in tenant ${u.tenant}${generated ? `\npassword: ${generated}  (shown once)` : ''}`,
  );
}

function userLine(u: UserView): string {
  return `${u.id}\t${u.email}\t${u.role}${u.disabled ? '\tdisabled' : ''}`;
}

export function printUsers(json: boolean, list: UserView[]): void {
  print(json, list, list.map(userLine).join('\n') || '(none)');
}

function lockLine(b: BucketView): string {
  const lock = b.objectLock;
  if (!lock.enabled) return 'off';
  const r = lock.defaultRetention;
  if (!r) return 'enabled, no default retention';
  const period = r.days !== undefined ? `${r.days} day${r.days === 1 ? '' : 's'}` : `${r.years} year${r.years === 1 ? '' : 's'}`;
  return `enabled, default retention ${r.mode} ${period}`;
}

/** `anvil admin bucket show`: settings, versioning, Object Lock, and usage with the history kept. */
export function printBucket(json: boolean, b: BucketView): void {
  const u = b.usage;
  const lines = [
    `bucket ${b.name}  tenant ${b.tenant}  region ${b.region}  created ${b.createdAt}`,
    `acl ${b.acl}  policy ${b.hasPolicy ? 'set' : 'none'}  replication ${b.effectiveReplication}${b.replication === null ? ' (default)' : ''}`,
    `versioning:      ${b.versioning}`,
    `object lock:     ${lockLine(b)}`,
    `quota:           ${quotaLine(b.quota)}`,
    ...(u
      ? [
          `objects:         ${u.objectCount} (${humanBytes(u.byteCount)})`,
          `versions:        ${u.versionCount} (${humanBytes(u.versionBytes)}), noncurrent ${u.noncurrentVersionCount} (${humanBytes(u.noncurrentBytes)})`,
          `delete markers:  ${u.deleteMarkerCount}`,
        ]
      : ['usage:           unknown (no state row in this region)']),
  ];
  print(json, b, lines.join('\n'));
}

/** `anvil admin bucket list`: one line per bucket. */
export function printBuckets(json: boolean, list: BucketView[]): void {
  const line = (b: BucketView) => {
    const u = b.usage;
    const usage = u
      ? `${u.objectCount} objects (${humanBytes(u.byteCount)})\t${u.noncurrentVersionCount} noncurrent (${humanBytes(u.noncurrentBytes)})\t${u.deleteMarkerCount} markers`
      : 'usage unknown';
    return `${b.name}\t${b.tenant}\t${b.versioning}\tlock ${b.objectLock.enabled ? 'on' : 'off'}\t${usage}`;
  };
  print(json, list, list.map(line).join('\n') || '(none)');
}

/** `anvil admin bucket versions`: a key's versions and delete markers, newest first. */
export function printKeyVersions(json: boolean, page: KeyVersionsPage, now = Date.now()): void {
  if (page.versions.length === 0 && !page.isTruncated) {
    print(json, page, `(no versions of ${page.key} in ${page.bucket})`);
    return;
  }
  const rows = page.versions.map((v) => {
    const retention =
      v.lockMode === null
        ? '-'
        : `${v.lockMode} until ${v.lockUntil}${v.lockUntil !== null && Date.parse(v.lockUntil) <= now ? ' (expired)' : ''}`;
    return [
      v.versionId,
      v.isLatest ? 'latest' : '-',
      v.isDeleteMarker ? 'delete marker' : String(v.size),
      v.etag || '-',
      v.lastModified,
      retention,
      v.legalHold ? 'on' : '-',
    ].join('\t');
  });
  const more = page.isTruncated ? [`(more: --after ${page.nextVersionIdMarker})`] : [];
  print(json, page, ['VERSION ID\tLATEST\tSIZE\tETAG\tLAST MODIFIED\tRETENTION\tLEGAL HOLD', ...rows, ...more].join('\n'));
}

export function printBucketDeletion(json: boolean, r: BucketDeletion): void {
  if (r.task !== undefined) {
    print(
      json,
      { task: r.task, bucket: r.bucket },
      `task ${r.task} will delete bucket ${r.bucket} and its contents (see: anvil admin tasks list)`,
    );
    return;
  }
  print(json, { deleted: r.bucket }, `deleted bucket ${r.bucket}`);
}

export function printReplication(json: boolean, b: BucketReplication): void {
  print(
    json,
    { bucket: b.name, replication: b.replication, effectiveReplication: b.effectiveReplication },
    `bucket ${b.name}: new objects get ${b.effectiveReplication} replica${b.effectiveReplication === 1 ? '' : 's'}` +
      `${b.replication === null ? ' (the default)' : ''}; objects already stored keep theirs`,
  );
}

export function printStatus(json: boolean, s: ServerStatus): void {
  const lines = [
    `Anvil ${s.version}  region ${s.region}  metadata ${s.engine}${s.uptimeSeconds === null ? '' : `  up ${s.uptimeSeconds}s`}`,
    `tenants ${s.tenants}  buckets ${s.buckets}  users ${s.users}  access keys ${s.accessKeys}`,
    `tasks: ${s.tasks.pending} pending, ${s.tasks.running} running, ${s.tasks.failed} failed`,
    `cleanup: ${s.cleanup.queued} queued, ${s.cleanup.deadLetters} dead letters`,
  ];
  print(json, s, lines.join('\n'));
}

/** 1.5 GiB, 320 MiB, 12 B. */
function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v >= 10 ? 0 : 1)} ${units[i]}`;
}

function backendLine(b: BackendInfo): string {
  const health =
    b.breaker === 'open'
      ? 'breaker open'
      : b.health.ok === false
        ? `unhealthy${b.health.detail ? ` (${b.health.detail})` : ''}`
        : b.health.ok
          ? 'healthy'
          : 'health unknown';
  const state = !b.configured ? 'NOT CONFIGURED' : b.draining ? 'draining' : 'active';
  const drain = b.drain
    ? `\tdrain task ${b.drain.task} ${b.drain.status}, ${b.drain.remaining} replicas left${b.drain.lastError ? ` (${b.drain.lastError})` : ''}`
    : '';
  const used = `${humanBytes(b.usedBytes)} / ${b.quotaBytes === null ? 'unlimited' : humanBytes(b.quotaBytes)}`;
  return `${b.name}\t${b.type ?? '-'}\t${state}\t${used}\t${b.blobCount} replicas\t${health}${drain}`;
}

export function printBackends(json: boolean, list: BackendList): void {
  const head = `placement ${list.placement}, default replication ${list.defaultReplication}`;
  print(json, list, [head, ...list.backends.map(backendLine)].join('\n'));
}

export function printDrain(json: boolean, r: DrainResult): void {
  print(
    json,
    r,
    `${r.backend} is draining: it takes no new blobs; ${r.enqueued ? 'task' : 'the existing task'} ${r.task} moves its ${r.remaining} replicas ` +
      `(a running server does it; see: anvil admin backend list)`,
  );
}

export function printRebalance(json: boolean, r: RebalanceResult): void {
  print(
    json,
    r,
    `${r.enqueued ? 'task' : 'the existing task'} ${r.task} evens out the backends' fill ratios (to within ${r.tolerance}); see: anvil admin backend list`,
  );
}

export function printUndrain(json: boolean, r: UndrainResult): void {
  const cancelled = r.cancelledTasks.length ? ` (drain task ${r.cancelledTasks.join(', ')} cancelled)` : '';
  print(json, r, `${r.backend} takes new blobs again${cancelled}; ${r.remaining} replicas on it`);
}

export function printRemoved(json: boolean, r: RemoveResult): void {
  print(json, r, `removed backend ${r.backend}: ${r.note}`);
}
