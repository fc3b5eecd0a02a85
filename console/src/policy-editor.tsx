/**
 * The policy editor: statements as rows (allow or deny, resource globs, actions), and a preview of
 * what they let their holder do on a sample path, computed here with the server's rules (policy.ts).
 */
import { useState } from 'preact/hooks';

import { type Action, ACTIONS, evaluate, type PolicyStatement, sampleQuestions } from './policy.js';

export interface DraftStatement {
  effect: 'allow' | 'deny';
  /** Globs separated by commas or white space, as typed. */
  resources: string;
  actions: Action[];
}

export const emptyStatement = (resources = ''): DraftStatement => ({ effect: 'allow', resources, actions: ['read', 'list'] });

/** The statements to send, each with its row's index; rows without a resource or an action are left out. */
function statements(rows: DraftStatement[]): Array<{ row: number; statement: PolicyStatement }> {
  return rows
    .map((r, row) => ({
      row,
      statement: {
        effect: r.effect,
        actions: ACTIONS.filter((a) => r.actions.includes(a)),
        resources: r.resources.split(/[\s,]+/).filter(Boolean),
      },
    }))
    .filter(({ statement: s }) => s.actions.length > 0 && s.resources.length > 0);
}

export const toPolicy = (rows: DraftStatement[]): PolicyStatement[] => statements(rows).map((s) => s.statement);

const ACTION_HELP: Record<Action, string> = {
  read: 'GET and HEAD objects',
  list: 'list keys under a prefix',
  write: 'PUT, copy and multipart uploads',
  delete: 'delete objects and versions',
  admin: 'bucket settings, deleting the bucket',
  grant: 'make keys with at most these rights',
};

export function PolicyEditor(props: { id: string; rows: DraftStatement[]; onChange(rows: DraftStatement[]): void; sample?: string }) {
  const { id, rows, onChange } = props;
  const [sample, setSample] = useState(props.sample ?? '');
  const update = (i: number, change: Partial<DraftStatement>) => onChange(rows.map((r, j) => (j === i ? { ...r, ...change } : r)));
  const indexed = statements(rows);
  const policy = indexed.map((s) => s.statement);

  return (
    <fieldset class="policy" aria-describedby={`${id}-help`}>
      <legend>Policy</legend>
      <p id={`${id}-help`} class="hint">
        Resources are globs over <code>bucket/key</code> (or a bucket name): <code>*</code> matches anything, slashes included,{' '}
        <code>?</code> one character. A deny beats any allow; nothing is allowed unless a row allows it.
      </p>
      <ol class="statements">
        {rows.map((r, i) => (
          <li key={i} class="statement">
            <label>
              <span class="visually-hidden">Statement {i + 1} effect</span>
              <select
                value={r.effect}
                onChange={(e) => update(i, { effect: (e.currentTarget as HTMLSelectElement).value as 'allow' | 'deny' })}
              >
                <option value="allow">Allow</option>
                <option value="deny">Deny</option>
              </select>
            </label>
            <label class="grow">
              <span class="visually-hidden">Statement {i + 1} resources</span>
              <input
                value={r.resources}
                placeholder="bucket/prefix/*"
                spellcheck={false}
                onInput={(e) => update(i, { resources: (e.currentTarget as HTMLInputElement).value })}
              />
            </label>
            <span role="group" aria-label={`Statement ${i + 1} actions`} class="action-boxes">
              {ACTIONS.map((a) => (
                <label key={a} title={ACTION_HELP[a]}>
                  <input
                    type="checkbox"
                    checked={r.actions.includes(a)}
                    onChange={(e) =>
                      update(i, {
                        actions: (e.currentTarget as HTMLInputElement).checked ? [...r.actions, a] : r.actions.filter((x) => x !== a),
                      })
                    }
                  />{' '}
                  {a}
                </label>
              ))}
            </span>
            <button type="button" aria-label={`Remove statement ${i + 1}`} onClick={() => onChange(rows.filter((_, j) => j !== i))}>
              Remove
            </button>
          </li>
        ))}
      </ol>
      <button type="button" onClick={() => onChange([...rows, emptyStatement()])}>
        Add statement
      </button>
      <div class="preview">
        <label>
          Preview on a sample path
          <input
            value={sample}
            placeholder="bucket/folder/file.txt"
            spellcheck={false}
            onInput={(e) => setSample((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        {sample.trim() !== '' && (
          <table aria-label="Policy preview" class="compact">
            <thead>
              <tr>
                <th scope="col">Request</th>
                <th scope="col">Answer</th>
                <th scope="col">Because of</th>
              </tr>
            </thead>
            <tbody>
              {sampleQuestions(sample.trim()).map((q) => {
                const v = evaluate(policy, q.action, q.resource);
                return (
                  <tr key={q.label}>
                    <th scope="row" class="mono">
                      {q.label}
                    </th>
                    <td class={v.allowed ? 'ok' : 'error'}>{v.allowed ? 'allowed' : 'refused'}</td>
                    <td>{v.by === null ? 'no statement allows it' : `statement ${indexed[v.by].row + 1} (${policy[v.by].effect})`}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </div>
    </fieldset>
  );
}
