/**
 * The house rules of ARCHITECTURE.md, checked on every `npm test`: imports
 * only point down and never circle (.dependency-cruiser.cjs), only src/meta/
 * knows which database engine it runs on, and a long file says why it is long.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { cruise, type IReporterOutput } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SRC = path.join(ROOT, 'src');

function sourceFiles(dir = SRC): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

describe('architecture', () => {
  it('has no import that points up a layer, no import circle, and no query outside src/meta/', async () => {
    const config = createRequire(import.meta.url)(path.join(ROOT, '.dependency-cruiser.cjs'));
    const result: IReporterOutput = await cruise(['src'], {
      ...config.options,
      ruleSet: { forbidden: config.forbidden },
      validate: true,
      baseDir: ROOT,
    });
    const output = result.output as { summary: { violations: { from: string; to: string; rule: { name: string } }[] } };
    const violations = output.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
    expect(violations).toEqual([]);
  }, 60_000);

  it('asks which database engine it runs on only inside src/meta/', () => {
    const offenders = sourceFiles()
      .filter((f) => !f.startsWith(path.join(SRC, 'meta') + path.sep))
      .filter((f) => /kind\s*[!=]==\s*'(postgres|sqlite)'|'(postgres|sqlite)'\s*[!=]==\s*\w*kind/i.test(fs.readFileSync(f, 'utf8')));
    expect(offenders.map((f) => path.relative(ROOT, f))).toEqual([]);
  });

  it('has no source file over 400 lines without a comment at its top saying why', () => {
    const unexplained = sourceFiles().filter((f) => {
      const text = fs.readFileSync(f, 'utf8');
      if (text.split('\n').length <= 400) return false;
      return !/Why one file/.test(text.split('\n').slice(0, 20).join('\n'));
    });
    expect(unexplained.map((f) => path.relative(ROOT, f))).toEqual([]);
  });
});
