/** One object: its metadata (HeadObject) and its versions (the admin API's key history); download and delete. */
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import { admin, s3 } from './api.js';
import { download } from './browser.js';
import { bytes, date, message } from './format.js';
import { go, href } from './router.js';

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

  useEffect(() => {
    setHeaders(null);
    setVersions(null);
    setError(null);
    s3('HEAD', bucket, key)
      .then((res) => setHeaders([...res.headers].filter(([n]) => SHOWN_HEADERS.includes(n) || n.startsWith('x-amz-'))))
      .catch((err: unknown) => setError(message(err)));
    admin<{ versions: Version[] }>('GET', `/buckets/${encodeURIComponent(bucket)}/versions?key=${encodeURIComponent(key)}&limit=100`)
      .then((r) => setVersions(r.versions))
      .catch((err: unknown) => setError(message(err)));
  }, [bucket, key]);

  async function remove() {
    if (!confirm(`Delete ${key}?`)) return;
    try {
      await s3('DELETE', bucket, key);
      go({ view: 'browse', bucket, prefix: folder });
    } catch (err) {
      setError(message(err));
    }
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
        </div>
      </div>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
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
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
