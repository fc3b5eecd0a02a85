/**
 * The layers of ARCHITECTURE.md, enforced: an import may only point down.
 *
 *   cli/ → app.ts (assembly) → admin/, http/, s3/ → core/ → blobs/, work/
 *        → meta/, backends/, crypto/, config/ → errors.ts
 *
 * `npm run lint:deps` prints violations; test/unit/architecture.test.ts fails
 * the build on any.
 */
const below = (from, forbidden, comment) => ({
  name: `${from.replace(/[^a-z]/g, '')}-imports-only-down`,
  comment,
  severity: 'error',
  from: { path: `^src/${from}` },
  to: { path: forbidden.map((f) => `^src/${f}`) },
});

const TOP = ['cli/', 'app\\.ts$', 'node/'];
const EDGE = ['admin/', 'http/', 's3/'];
const CORE = ['core/'];
const MIDDLE = ['blobs/', 'work/'];
const GROUND = ['meta/', 'backends/', 'crypto/', 'config/'];

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Modules that import each other cannot be understood, tested or moved one at a time.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    below('(admin|http|s3)/', TOP, 'The protocol edges are assembled by app.ts; they never reach for it.'),
    below('core/', [...TOP, ...EDGE], 'Core decides; it knows no protocol (no S3 errors, no admin JSON).'),
    below('(blobs|work)/', [...TOP, ...EDGE, ...CORE], 'Blobs and background scheduling serve core; they never call it.'),
    below('(meta|backends|crypto|config)/', [...TOP, ...EDGE, ...CORE, ...MIDDLE], 'Persistence and drivers know nothing above them.'),
    below('errors\\.ts$', ['.'], 'The domain error type imports nothing, so every layer may use it.'),
    below('tracing\\.ts$', ['.'], 'The span helpers import nothing of ours (only @opentelemetry/api), so every layer may use them.'),
    {
      name: 'sql-only-in-meta',
      severity: 'error',
      comment:
        'Only src/meta/ builds queries; everything else calls its functions. blobs/folder-lock.ts is the one ' +
        'exception: it holds an OS file lock through SQLite (locking_mode=EXCLUSIVE) and runs no query.',
      from: { path: '^src/', pathNot: ['^src/meta/', '^src/blobs/folder-lock\\.ts$'] },
      to: { path: 'node_modules/(kysely|pg|better-sqlite3)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    exclude: { path: '^(test|bench)/' },
  },
};
