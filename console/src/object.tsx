/**
 * One object: its metadata (HeadObject), tags (Get/PutObjectTagging) and versions (the admin API's key
 * history); download, share link (a presigned GET), delete (one version, or every version).
 */
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import { admin, s3, s3Signed, shareLink } from './api.js';
import { download } from './browser.js';
import { bytes, date, message } from './format.js';
import { go, href } from './router.js';
import { parseTags, tagsXml } from './s3xml.js';

interface Version {
  versionId: string;
  isLatest: boolean;
  isDeleteMarker: boolean;
  size: number;
  etag: string;
  lastModified: string;
  lockMode: string | null;
  lockUntil: string | null;
  legalHold: boolean;
}

const SHOWN_HEADERS = [
  'content-type',
  'content-length',
  'etag',
  'last-modified',
  'cache-control',
  'content-disposition',
  'content-encoding',
];

export function ObjectDetails(props: { bucket: string; objectKey: string }) {
  const { bucket, objectKey: key } = props;
  const [headers, setHeaders] = useState<Array<[string, string]> | null>(null);
  const [versions, setVersions] = useState<Version[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const folder = key.includes('/') ? key.slice(0, key.lastIndexOf('/') + 1) : '';

  const [status, setStatus] = useState('');
  const loadVersions = () =>
    admin<{ versions: Version[] }>('GET', `/buckets/${encodeURIComponent(bucket)}/versions?key=${encodeURIComponent(key)}&limit=1000`)
      .then((r) => setVersions(r.versions))
      .catch((err: unknown) => setError(message(err)));

  useEffect(() => {
    setHeaders(null);
    setVersions(null);
    setError(null);
    setStatus('');
    s3('HEAD', bucket, key)
      .then((res) => setHeaders([...res.headers].filter(([n]) => SHOWN_HEADERS.includes(n) || n.startsWith('x-amz-'))))
      .catch((err: unknown) => setError(message(err)));
    void loadVersions();
  }, [bucket, key]);

  const versioned = versions !== null && versions.some((v) => v.versionId !== 'null');

  async function remove() {
    const question = versioned
      ? `Delete ${key}? Its versions are kept (a delete marker hides them); use “Delete all versions” to remove them.`
      : `Delete ${key}?`;
    if (!confirm(question)) return;
    try {
      await s3('DELETE', bucket, key);
      go({ view: 'browse', bucket, prefix: folder });
    } catch (err) {
      setError(message(err));
    }
  }

  async function removeVersion(v: Version) {
    if (!confirm(`Delete version ${v.versionId} of ${key}? This cannot be undone.`)) return;
    try {
      await s3('DELETE', bucket, key, { versionId: v.versionId });
      setStatus(`Version ${v.versionId} deleted.`);
      await loadVersions();
    } catch (err) {
      setError(`Could not delete version ${v.versionId}: ${message(err)}`);
    }
  }

  async function removeAll() {
    const all = versions ?? [];
    if (!confirm(`Delete ${key} with all its ${all.length} versions and delete markers? This cannot be undone.`)) return;
    const failed: string[] = [];
    for (const v of all) {
      try {
        await s3('DELETE', bucket, key, { versionId: v.versionId });
      } catch (err) {
        failed.push(`${v.versionId}: ${message(err)}`);
      }
    }
    if (failed.length === 0) {
      go({ view: 'browse', bucket, prefix: folder });
      return;
    }
    setError(`Some versions were not deleted — ${failed.join('; ')}`);
    await loadVersions();
  }

  return (
    <section aria-labelledby="object-title">
      <nav aria-label="Breadcrumb" class="crumbs">
        <ol>
          <li>
            <a href={href({ view: 'buckets' })}>Buckets</a>
          </li>
          <li>
            <a href={href({ view: 'browse', bucket, prefix: '' })}>{bucket}</a>
          </li>
          {folder && (
            <li>
              <a href={href({ view: 'browse', bucket, prefix: folder })}>{folder}</a>
            </li>
          )}
        </ol>
      </nav>
      <div class="title-row">
        <h1 id="object-title" class="break">
          {key.slice(folder.length)}
        </h1>
        <div class="inline">
          <button type="button" class="primary" onClick={() => download(bucket, key)}>
            Download
          </button>
          <button type="button" class="danger" onClick={remove}>
            Delete
          </button>
          {versioned && (
            <button type="button" class="danger" onClick={removeAll}>
              Delete all versions
            </button>
          )}
        </div>
      </div>
      <p role="status" class="status">
        {status}
      </p>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <Share bucket={bucket} objectKey={key} />
      <h2>Metadata</h2>
      {headers === null ? (
        <p>Loading…</p>
      ) : (
        <dl class="meta">
          <dt>Key</dt>
          <dd class="break">{key}</dd>
          {headers.map(([n, v]) => (
            <Fragment key={n}>
              <dt>{n}</dt>
              <dd class="break">{n === 'content-length' ? `${bytes(Number(v))} (${v} bytes)` : v}</dd>
            </Fragment>
          ))}
        </dl>
      )}
      <Tags bucket={bucket} objectKey={key} />
      <h2>Versions</h2>
      {versions === null ? (
        <p>Loading…</p>
      ) : (
        <div class="table-wrap">
          <table aria-label={`Versions of ${key}`}>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col" class="num">
                  Size
                </th>
                <th scope="col">Last modified</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {versions.map((v) => (
                <tr key={v.versionId}>
                  <th scope="row" class="mono">
                    {v.versionId}
                  </th>
                  <td class="num">{v.isDeleteMarker ? '—' : bytes(v.size)}</td>
                  <td>{date(v.lastModified)}</td>
                  <td>
                    {[
                      v.isLatest ? 'latest' : 'noncurrent',
                      v.isDeleteMarker && 'delete marker',
                      v.lockMode && `${v.lockMode.toLowerCase()} until ${date(v.lockUntil)}`,
                      v.legalHold && 'legal hold',
                    ]
                      .filter(Boolean)
                      .join(', ')}
                  </td>
                  <td class="actions">
                    {v.versionId !== 'null' && (
                      <button type="button" class="danger" onClick={() => removeVersion(v)} aria-label={`Delete version ${v.versionId}`}>
                        Delete
                      </button>
                    )}
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

const EXPIRIES: Array<[number, string]> = [
  [15 * 60, '15 minutes'],
  [3600, '1 hour'],
  [24 * 3600, '1 day'],
  [7 * 24 * 3600, '7 days'],
];

/** A share link: a presigned GET with a chosen expiry, copied to the clipboard and shown. */
function Share(props: { bucket: string; objectKey: string }) {
  const [seconds, setSeconds] = useState(3600);
  const [link, setLink] = useState<{ url: string; expiresAt: Date; copied: boolean } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => setLink(null), [props.bucket, props.objectKey]);

  async function make(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      const { url, expiresAt } = await shareLink(props.bucket, props.objectKey, seconds);
      // The clipboard needs a secure context (https, localhost); elsewhere the link is shown to copy by hand.
      const copied = await navigator.clipboard?.writeText(url).then(
        () => true,
        () => false,
      );
      setLink({ url, expiresAt, copied: copied === true });
    } catch (err) {
      setError(message(err));
    }
  }

  return (
    <form class="share" onSubmit={make} aria-labelledby="share-title">
      <h2 id="share-title">Share</h2>
      <div class="inline">
        <label>
          Link expires in{' '}
          <select value={seconds} onChange={(e) => setSeconds(Number((e.currentTarget as HTMLSelectElement).value))}>
            {EXPIRIES.map(([s, label]) => (
              <option key={s} value={s}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Copy share link</button>
      </div>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {link && (
        <div class="share-result">
          <label>
            Share link
            <input readOnly value={link.url} class="mono" onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} />
          </label>
          <p class="hint" role="status">
            {link.copied ? 'Copied to the clipboard. ' : 'Select and copy the link. '}
            Anyone with it can download this object until {date(link.expiresAt.toISOString())}
            {link.expiresAt.getTime() < Date.now() + seconds * 1000 - 60_000
              ? ' (a link made in a user session ends with the session’s S3 credentials, within the hour, or when you sign out).'
              : '.'}
          </p>
        </div>
      )}
    </form>
  );
}

const MAX_TAGS = 10;

/** The object's tags as editable rows (PutObjectTagging replaces the whole set). */
function Tags(props: { bucket: string; objectKey: string }) {
  const { bucket, objectKey: key } = props;
  const [rows, setRows] = useState<Array<[string, string]> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState('');

  useEffect(() => {
    setRows(null);
    setError(null);
    setStatus('');
    s3('GET', bucket, key, { tagging: '' })
      .then(async (res) => setRows(parseTags(await res.text())))
      .catch((err: unknown) => setError(message(err)));
  }, [bucket, key]);

  const set = (i: number, col: 0 | 1, value: string) =>
    setRows((r) => r!.map((row, j) => (j === i ? ((col === 0 ? [value, row[1]] : [row[0], value]) as [string, string]) : row)));

  async function save(e: Event) {
    e.preventDefault();
    const tags = (rows ?? []).filter(([k]) => k.trim() !== '');
    setError(null);
    try {
      if (tags.length === 0) await s3('DELETE', bucket, key, { tagging: '' });
      else await s3Signed('PUT', bucket, key, { tagging: '' }, { body: tagsXml(tags), headers: { 'content-type': 'application/xml' } });
      setRows(tags);
      setStatus(tags.length === 0 ? 'Tags removed.' : `${tags.length} tag${tags.length === 1 ? '' : 's'} saved.`);
    } catch (err) {
      setError(`Could not save the tags: ${message(err)}`);
    }
  }

  return (
    <form onSubmit={save} aria-labelledby="tags-title" class="tags">
      <h2 id="tags-title">Tags</h2>
      {rows === null ? (
        !error && <p>Loading…</p>
      ) : (
        <>
          {rows.length === 0 && <p class="hint">No tags.</p>}
          {rows.map(([k, v], i) => (
            <div class="inline tag-row" key={i}>
              <label>
                <span class="visually-hidden">Tag {i + 1} key</span>
                <input
                  value={k}
                  placeholder="key"
                  maxLength={128}
                  onInput={(e) => set(i, 0, (e.currentTarget as HTMLInputElement).value)}
                />
              </label>
              <label>
                <span class="visually-hidden">Tag {i + 1} value</span>
                <input
                  value={v}
                  placeholder="value"
                  maxLength={256}
                  onInput={(e) => set(i, 1, (e.currentTarget as HTMLInputElement).value)}
                />
              </label>
              <button type="button" aria-label={`Remove tag ${i + 1}`} onClick={() => setRows((r) => r!.filter((_, j) => j !== i))}>
                Remove
              </button>
            </div>
          ))}
          <div class="inline">
            <button type="button" disabled={rows.length >= MAX_TAGS} onClick={() => setRows((r) => [...r!, ['', '']])}>
              Add tag
            </button>
            <button type="submit" class="primary">
              Save tags
            </button>
          </div>
        </>
      )}
      <p role="status" class="status">
        {status}
      </p>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </form>
  );
}
