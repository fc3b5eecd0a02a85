/**
 * The buckets of the signed-in tenant, with size, object count, versioning and Object Lock; create and
 * delete; make one public-read (anyone may list it) or private (PutBucketAcl with a canned ACL).
 */
import { useEffect, useState } from 'preact/hooks';

import { admin, s3, s3Signed, type Who } from './api.js';
import { bytes, count, date, message } from './format.js';
import { href } from './router.js';

export interface BucketInfo {
  name: string;
  tenant: string;
  createdAt: string;
  versioning: 'Unversioned' | 'Enabled' | 'Suspended';
  objectLock: { enabled: boolean };
  acl: string;
  usage: { objectCount: number; byteCount: number; versionBytes: number } | null;
}

export function Buckets(props: { who: Who }) {
  const [buckets, setBuckets] = useState<BucketInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string>('');
  const [busy, setBusy] = useState(false);

  async function load() {
    try {
      const r = await admin<{ buckets: BucketInfo[] }>('GET', `/tenants/${encodeURIComponent(props.who.tenant)}/buckets`);
      setBuckets(r.buckets);
      setError(null);
    } catch (err) {
      setError(message(err));
    }
  }
  useEffect(() => {
    void load();
  }, [props.who.tenant]);

  async function create(e: Event) {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const name = String(new FormData(form).get('name') ?? '').trim();
    setBusy(true);
    setError(null);
    try {
      await s3('PUT', name);
      form.reset();
      await load();
      setStatus(`Bucket ${name} created.`);
    } catch (err) {
      setError(`Could not create ${name}: ${message(err)}`);
    } finally {
      setBusy(false);
    }
  }

  async function remove(b: BucketInfo) {
    const empty = (b.usage?.objectCount ?? 0) === 0 && (b.usage?.versionBytes ?? 0) === 0;
    const question = empty
      ? `Delete bucket ${b.name}?`
      : `Bucket ${b.name} is not empty. Delete it with everything in it (every version)? This cannot be undone.`;
    if (!confirm(question)) return;
    setError(null);
    try {
      const r = await admin<{ deleted: boolean }>('DELETE', `/buckets/${encodeURIComponent(b.name)}${empty ? '' : '?force=true'}`);
      await load();
      setStatus(r.deleted ? `Bucket ${b.name} deleted.` : `Bucket ${b.name} is being emptied and deleted in the background.`);
    } catch (err) {
      setError(`Could not delete ${b.name}: ${message(err)}`);
    }
  }

  async function setAccess(b: BucketInfo, acl: 'public-read' | 'private') {
    const question =
      acl === 'public-read'
        ? `Make bucket ${b.name} public? Anyone, without signing in, may then list its keys.`
        : `Make bucket ${b.name} private?`;
    if (!confirm(question)) return;
    setError(null);
    try {
      await s3Signed('PUT', b.name, undefined, { acl: '' }, { headers: { 'x-amz-acl': acl } });
      await load();
      setStatus(acl === 'public-read' ? `Bucket ${b.name} is public.` : `Bucket ${b.name} is private.`);
    } catch (err) {
      setError(`Could not change the access of ${b.name}: ${message(err)}`);
    }
  }

  return (
    <section aria-labelledby="buckets-title">
      <div class="title-row">
        <h1 id="buckets-title">Buckets</h1>
        <form class="inline" onSubmit={create}>
          <label>
            <span class="visually-hidden">New bucket name</span>
            <input
              name="name"
              required
              placeholder="new-bucket-name"
              pattern="[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]"
              title="3-63 lower-case letters, digits, dots and dashes"
              spellcheck={false}
            />
          </label>
          <button type="submit" class="primary" disabled={busy}>
            Create bucket
          </button>
        </form>
      </div>
      <p role="status" class="status">
        {status}
      </p>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {buckets === null ? (
        <p>Loading…</p>
      ) : buckets.length === 0 ? (
        <p>No buckets yet. Create one above.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col" class="num">
                  Objects
                </th>
                <th scope="col" class="num">
                  Size
                </th>
                <th scope="col">Versioning</th>
                <th scope="col">Object Lock</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {buckets.map((b) => (
                <tr key={b.name}>
                  <th scope="row">
                    <a href={href({ view: 'browse', bucket: b.name, prefix: '' })}>{b.name}</a>
                    {b.acl === 'public-read' && <span class="badge">public</span>}
                  </th>
                  <td class="num">{b.usage ? count(b.usage.objectCount) : '—'}</td>
                  <td class="num">{b.usage ? bytes(b.usage.byteCount) : '—'}</td>
                  <td>{b.versioning}</td>
                  <td>{b.objectLock.enabled ? 'On' : 'Off'}</td>
                  <td>{date(b.createdAt)}</td>
                  <td class="actions">
                    {b.acl === 'public-read' ? (
                      <button type="button" onClick={() => setAccess(b, 'private')} aria-label={`Make bucket ${b.name} private`}>
                        Make private
                      </button>
                    ) : (
                      <button type="button" onClick={() => setAccess(b, 'public-read')} aria-label={`Make bucket ${b.name} public`}>
                        Make public
                      </button>
                    )}
                    <button type="button" class="danger" onClick={() => remove(b)} aria-label={`Delete bucket ${b.name}`}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
