/**
 * The branch graph of a bucket (GET /admin/v1/buckets/{b}/branches and …/commits?ref=): every
 * branch, and the commits reachable from any of them, newest generation first, drawn one lane per
 * branch with a line to each parent. Rows have a fixed height, so the drawing and the list line up
 * and nothing shifts as it loads; the drawing is decoration (the list says everything in words).
 */
import { useEffect, useState } from 'preact/hooks';

import { admin } from './api.js';
import { date, message } from './format.js';
import { href } from './router.js';

interface Branch {
  name: string;
  parent: string | null;
  forkSeq: number | null;
  headCommit: string | null;
  alias: string;
  createdAt: string;
}

interface Commit {
  id: string;
  branch: string | null;
  seq: number;
  generation: number;
  parents: string[];
  author: string;
  message: string;
  createdAt: string;
}

const ROW = 44;
const LANE = 22;
const enc = encodeURIComponent;

export function BranchGraph(props: { bucket: string }) {
  const { bucket } = props;
  const [branches, setBranches] = useState<Branch[] | null>(null);
  const [commits, setCommits] = useState<Commit[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setBranches(null);
    setCommits(null);
    setError(null);
    (async () => {
      const { branches: list } = await admin<{ branches: Branch[] }>('GET', `/buckets/${enc(bucket)}/branches`);
      setBranches(list);
      const logs = await Promise.all(
        list.map((b) => admin<{ commits: Commit[] }>('GET', `/buckets/${enc(bucket)}/commits?ref=${enc(b.name)}&limit=200`)),
      );
      const byId = new Map<string, Commit>();
      for (const log of logs) for (const c of log.commits) byId.set(c.id, c);
      setCommits([...byId.values()].sort((a, b) => b.generation - a.generation || Date.parse(b.createdAt) - Date.parse(a.createdAt)));
    })().catch((err: unknown) => setError(message(err)));
  }, [bucket]);

  const lanes = new Map((branches ?? []).map((b, i) => [b.name, i]));
  const laneOf = (c: Commit) => lanes.get(c.branch ?? 'main') ?? 0;
  const rowOf = new Map((commits ?? []).map((c, i) => [c.id, i]));
  const heads = new Map((branches ?? []).filter((b) => b.headCommit).map((b) => [b.headCommit!, b.name]));
  const x = (lane: number) => lane * LANE + LANE / 2;
  const y = (row: number) => row * ROW + ROW / 2;
  const width = Math.max(1, lanes.size) * LANE;

  return (
    <section aria-labelledby="graph-title">
      <nav aria-label="Breadcrumb" class="crumbs">
        <ol>
          <li>
            <a href={href({ view: 'buckets' })}>Buckets</a>
          </li>
          <li>
            <a href={href({ view: 'browse', bucket, prefix: '' })}>{bucket}</a>
          </li>
        </ol>
      </nav>
      <h1 id="graph-title">Branches of {bucket}</h1>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {branches === null ? (
        !error && <p>Loading…</p>
      ) : (
        <div class="table-wrap">
          <table aria-label={`Branches of ${bucket}`}>
            <thead>
              <tr>
                <th scope="col">Branch</th>
                <th scope="col">From</th>
                <th scope="col">S3 bucket name</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {branches.map((b, i) => (
                <tr key={b.name}>
                  <th scope="row">
                    <span class={`lane-dot lane-${i % 6}`} aria-hidden="true" /> {b.name}
                  </th>
                  <td>{b.parent ?? '—'}</td>
                  <td class="mono">{b.alias}</td>
                  <td>{date(b.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>Commits</h2>
      {commits === null ? (
        !error && <p>Loading…</p>
      ) : commits.length === 0 ? (
        <p>No commits yet (commit a branch with `anvil commit` or the admin API).</p>
      ) : (
        <div class="graph">
          <svg
            class="graph-lines"
            aria-hidden="true"
            width={width}
            height={commits.length * ROW}
            viewBox={`0 0 ${width} ${commits.length * ROW}`}
          >
            {commits.flatMap((c, i) =>
              c.parents
                .filter((p) => rowOf.has(p))
                .map((p) => {
                  const parent = commits[rowOf.get(p)!];
                  const [x1, y1, x2, y2] = [x(laneOf(c)), y(i), x(laneOf(parent)), y(rowOf.get(p)!)];
                  const d = x1 === x2 ? `M${x1} ${y1}L${x2} ${y2}` : `M${x1} ${y1}C${x1} ${y1 + ROW / 2} ${x2} ${y2 - ROW} ${x2} ${y2}`;
                  return <path key={`${c.id}-${p}`} d={d} class={`edge lane-${laneOf(c) % 6}`} />;
                }),
            )}
            {commits.map((c, i) => (
              <circle key={c.id} cx={x(laneOf(c))} cy={y(i)} r={5} class={`node lane-${laneOf(c) % 6}`} />
            ))}
          </svg>
          <ol class="commits" aria-label={`Commits of ${bucket}`}>
            {commits.map((c) => (
              <li key={c.id} data-commit={c.id}>
                <span class="commit-message">
                  {c.message}
                  {heads.has(c.id) && <span class="badge">head of {heads.get(c.id)}</span>}
                </span>
                <span class="small muted">
                  <span class="mono">{c.id.slice(0, 12)}</span> on {c.branch ?? 'main'} · {c.author} · {date(c.createdAt)}
                  {c.parents.length > 1 && ` · merge of ${c.parents.map((p) => p.slice(0, 8)).join(' and ')}`}
                </span>
              </li>
            ))}
          </ol>
        </div>
      )}
    </section>
  );
}
