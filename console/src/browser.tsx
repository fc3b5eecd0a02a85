/**
 * One bucket's objects under a prefix: folders (delimiter "/"), breadcrumbs,
 * search by prefix, pages of ListObjectsV2, uploads (file picker or drag and
 * drop, with progress), download and delete.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

import { s3, s3Url } from './api.js';
import { bytes, date, message } from './format.js';
import { href } from './router.js';
import { type Listing, parseListing } from './s3xml.js';
import { upload } from './upload.js';

const PAGE_SIZES = [100, 1000];

interface Upload {
  id: number;
  name: string;
  size: number;
  sent: number;
  state: 'uploading' | 'done' | 'failed' | 'cancelled';
  error?: string;
  abort?: () => void;
}

let uploadIds = 0;

export async function download(bucket: string, key: string): Promise<void> {
  const a = document.createElement('a');
  a.href = await s3Url('GET', bucket, key);
  a.download = key.slice(key.lastIndexOf('/') + 1) || 'download';
  document.body.append(a);
  a.click();
  a.remove();
}

function Breadcrumbs(props: { bucket: string; prefix: string }) {
  const parts = props.prefix.split('/').filter(Boolean);
  return (
    <nav aria-label="Breadcrumb" class="crumbs">
      <ol>
        <li>
          <a href={href({ view: 'buckets' })}>Buckets</a>
        </li>
        <li>
          <a href={href({ view: 'browse', bucket: props.bucket, prefix: '' })} aria-current={parts.length === 0 ? 'page' : undefined}>
            {props.bucket}
          </a>
        </li>
        {parts.map((p, i) => (
          <li key={i}>
            <a
              href={href({ view: 'browse', bucket: props.bucket, prefix: parts.slice(0, i + 1).join('/') + '/' })}
              aria-current={i === parts.length - 1 ? 'page' : undefined}
            >
              {p}
            </a>
          </li>
        ))}
      </ol>
    </nav>
  );
}

export function Browser(props: { bucket: string; prefix: string }) {
  const { bucket, prefix } = props;
  const [search, setSearch] = useState('');
  const [pageSize, setPageSize] = useState(PAGE_SIZES[0]);
  const [listing, setListing] = useState<Listing | null>(null);
  const [tokens, setTokens] = useState<Array<string | undefined>>([undefined]);
  const [page, setPage] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState('');
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [dragging, setDragging] = useState(false);
  const [elapsed, setElapsed] = useState<number | null>(null);
  const generation = useRef(0);
  const fileInput = useRef<HTMLInputElement>(null);

  async function load(pageIndex: number, token: string | undefined) {
    const mine = ++generation.current;
    const started = performance.now();
    try {
      const query: Record<string, string> = { 'list-type': '2', prefix: prefix + search, delimiter: '/', 'max-keys': String(pageSize) };
      if (token) query['continuation-token'] = token;
      const res = await s3('GET', bucket, undefined, query);
      const parsed = parseListing(await res.text());
      if (mine !== generation.current) return;
      setListing(parsed);
      setPage(pageIndex);
      setTokens((t) => {
        const next = t.slice(0, pageIndex + 1);
        next[pageIndex + 1] = parsed.nextToken ?? undefined;
        return next;
      });
      setError(null);
      setElapsed(Math.round(performance.now() - started));
    } catch (err) {
      if (mine === generation.current) setError(message(err));
    }
  }

  useEffect(() => {
    setListing(null);
    setTokens([undefined]);
    void load(0, undefined);
  }, [bucket, prefix, search, pageSize]);
  useEffect(() => setSearch(''), [bucket, prefix]);

  const reload = () => load(page, tokens[page]);

  async function startUploads(files: File[]) {
    if (files.length === 0) return;
    setError(null);
    const entries: Upload[] = files.map((f) => ({ id: ++uploadIds, name: f.name, size: f.size, sent: 0, state: 'uploading' }));
    setUploads((u) => [...u.filter((x) => x.state === 'uploading'), ...entries]);
    const update = (id: number, change: Partial<Upload>) => setUploads((u) => u.map((x) => (x.id === id ? { ...x, ...change } : x)));
    await Promise.all(
      files.map(async (file, i) => {
        const id = entries[i].id;
        try {
          const handle = await upload(bucket, prefix + file.name, file, (sent) => update(id, { sent }));
          update(id, { abort: handle.abort });
          await handle.done;
          update(id, { state: 'done', sent: file.size, abort: undefined });
        } catch (err) {
          const cancelled = message(err) === 'upload cancelled';
          update(id, { state: cancelled ? 'cancelled' : 'failed', error: message(err), abort: undefined });
        }
      }),
    );
    setStatus(`${files.length === 1 ? files[0].name : `${files.length} files`} uploaded to ${prefix || bucket + '/'}.`);
    await reload();
  }

  async function remove(key: string) {
    if (!confirm(`Delete ${key}?`)) return;
    try {
      await s3('DELETE', bucket, key);
      setStatus(`${key} deleted.`);
      await reload();
    } catch (err) {
      setError(`Could not delete ${key}: ${message(err)}`);
    }
  }

  const totalSize = uploads.reduce((s, u) => s + u.size, 0);
  const totalSent = uploads.reduce((s, u) => s + u.sent, 0);
  const name = (key: string) => key.slice(prefix.length);

  return (
    <section
      aria-labelledby="browse-title"
      class={dragging ? 'dropzone dragging' : 'dropzone'}
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={(e) => {
        e.preventDefault();
        setDragging(false);
        void startUploads(Array.from(e.dataTransfer?.files ?? []));
      }}
    >
      <Breadcrumbs bucket={bucket} prefix={prefix} />
      <div class="title-row">
        <h1 id="browse-title">{prefix ? prefix.replace(/\/$/, '').split('/').pop() : bucket}</h1>
        <div class="inline">
          <label>
            <span class="visually-hidden">Search by prefix</span>
            <input
              type="search"
              placeholder="Search by prefix…"
              value={search}
              onInput={(e) => setSearch((e.currentTarget as HTMLInputElement).value)}
              spellcheck={false}
            />
          </label>
          <input
            ref={fileInput}
            id="upload-input"
            type="file"
            multiple
            class="visually-hidden"
            onChange={(e) => {
              const input = e.currentTarget as HTMLInputElement;
              void startUploads(Array.from(input.files ?? []));
              input.value = '';
            }}
          />
          <button type="button" class="primary" onClick={() => fileInput.current?.click()}>
            Upload files
          </button>
          {!bucket.includes('--') && <a href={href({ view: 'graph', bucket })}>Branches</a>}
        </div>
      </div>
      <p class="hint">Drop files anywhere here to upload them to this folder.</p>
      <p role="status" class="status">
        {status}
      </p>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {uploads.length > 0 && (
        <section aria-label="Uploads" class="uploads">
          <label>
            Total
            <progress max={totalSize || 1} value={totalSent} aria-label="Total upload progress" />
            <span>
              {bytes(totalSent)} / {bytes(totalSize)}
            </span>
          </label>
          <ul>
            {uploads.map((u) => (
              <li key={u.id}>
                <span class="upload-name">{u.name}</span>
                <progress max={u.size || 1} value={u.sent} aria-label={`Upload progress of ${u.name}`} />
                <span>{u.state === 'uploading' ? `${Math.floor((u.sent / (u.size || 1)) * 100)}%` : u.state}</span>
                {u.error && u.state === 'failed' && <span class="error">{u.error}</span>}
                {u.abort && (
                  <button type="button" onClick={u.abort} aria-label={`Cancel upload of ${u.name}`}>
                    Cancel
                  </button>
                )}
              </li>
            ))}
          </ul>
        </section>
      )}
      {listing === null ? (
        <p>Loading…</p>
      ) : listing.folders.length === 0 && listing.objects.length === 0 ? (
        <p>{search ? `Nothing starts with “${search}”.` : 'This folder is empty. Upload files or drop them here.'}</p>
      ) : (
        <div class="table-wrap">
          <table aria-label={`Objects in ${bucket}/${prefix}`} data-elapsed-ms={elapsed ?? undefined}>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col" class="num">
                  Size
                </th>
                <th scope="col">Last modified</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {listing.folders.map((f) => (
                <tr key={`d:${f}`}>
                  <th scope="row">
                    <a href={href({ view: 'browse', bucket, prefix: f })}>
                      <span aria-hidden="true">📁 </span>
                      {name(f)}
                    </a>
                  </th>
                  <td class="num">—</td>
                  <td>—</td>
                  <td />
                </tr>
              ))}
              {listing.objects.map((o) => (
                <tr key={`o:${o.key}`}>
                  <th scope="row">
                    <a href={href({ view: 'object', bucket, key: o.key })}>{name(o.key) || o.key}</a>
                  </th>
                  <td class="num">{bytes(o.size)}</td>
                  <td>{date(o.lastModified)}</td>
                  <td class="actions">
                    <button type="button" onClick={() => download(bucket, o.key)} aria-label={`Download ${o.key}`}>
                      Download
                    </button>
                    <button type="button" class="danger" onClick={() => remove(o.key)} aria-label={`Delete ${o.key}`}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {listing !== null && (
        <nav aria-label="Pages" class="pager">
          <label>
            Rows per page{' '}
            <select value={pageSize} onChange={(e) => setPageSize(Number((e.currentTarget as HTMLSelectElement).value))}>
              {PAGE_SIZES.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <button type="button" disabled={page === 0} onClick={() => load(page - 1, tokens[page - 1])}>
            Previous page
          </button>
          <span>Page {page + 1}</span>
          <button type="button" disabled={!tokens[page + 1]} onClick={() => load(page + 1, tokens[page + 1])}>
            Next page
          </button>
        </nav>
      )}
    </section>
  );
}
