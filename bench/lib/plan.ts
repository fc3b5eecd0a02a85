/** How much work each phase does, for the quick and the full run. */
export interface Plan {
  name: 'quick' | 'full';
  largeSize: number;
  /** Objects per large run, by concurrency. */
  largeCount: Record<number, number>;
  largeConcurrency: number[];
  /** Each large object is read back this many times. */
  largeGetRounds: number;
  smallSize: number;
  smallConcurrency: number[];
  /** Seconds per 4 KiB PUT run and per GET run. */
  smallPutS: number;
  smallGetS: number;
  listKeys: number;
  /** Keys per folder in the list bucket (folders = listKeys / this). */
  listKeysPerFolder: number;
  listSamples: number;
  /** Give up sampling a list query after this many seconds (slow peers). */
  listMaxS: number;
  mpuSize: number;
  mpuPartSize: number;
  mpuConcurrency: number;
  /**
   * The cost section (Anvil on SQLite with encryption off / on, replication
   * 1 / 2): 64 MiB objects per PUT run at c=1, seconds per 4 KiB PUT and GET
   * run at c=16.
   */
  cost: { largeCount: number; smallPutS: number; smallGetS: number };
  /**
   * The versioning section (Anvil only): `keys` keys written `history` times
   * each in a versioned and an unversioned bucket before the 4 KiB GET / PUT
   * runs (smallConcurrency, smallPutS / smallGetS per side); one key with
   * `deepVersions` versions; list buckets of `listKeys` keys × `listVersions`
   * versions and × 1; `listSamples` pages of each list query, in rotation,
   * at most `listMaxS` seconds per query.
   */
  versioning: {
    keys: number;
    history: number;
    deepVersions: number;
    listKeys: number;
    listVersions: number;
    listSamples: number;
    listMaxS: number;
  };
  /**
   * The branches section (Anvil only; lib/branches.ts): a bucket of `keys`
   * objects (seeded into the stopped server's database), `creations`
   * branch creations on it and on an empty bucket, a chain of 7 branches
   * each overwriting `chainWrites` keys, one key with `deepVersions`
   * versions after a commit, and `merges` feature branches each changing
   * `changes` keys in the big bucket and in a bucket of `changes` keys.
   * GET rotations run `getRounds` rounds, list rotations `listRounds`,
   * diffs `diffRounds`, each at most `maxS` seconds (diffs twice that).
   */
  branches: {
    keys: number;
    changes: number;
    deepVersions: number;
    creations: number;
    chainWrites: number;
    getRounds: number;
    listRounds: number;
    diffRounds: number;
    merges: number;
    maxS: number;
  };
}

const MiB = 1024 * 1024;

export const plans: Record<'quick' | 'full', Plan> = {
  quick: {
    name: 'quick',
    largeSize: 64 * MiB,
    largeCount: { 1: 3, 8: 8 },
    largeConcurrency: [1, 8],
    largeGetRounds: 3,
    smallSize: 4096,
    smallConcurrency: [1, 16, 64],
    smallPutS: 2,
    smallGetS: 1.5,
    listKeys: 10_000,
    listKeysPerFolder: 10,
    listSamples: 50,
    listMaxS: 5,
    mpuSize: 256 * MiB,
    mpuPartSize: 16 * MiB,
    mpuConcurrency: 4,
    cost: { largeCount: 3, smallPutS: 1.5, smallGetS: 1 },
    versioning: { keys: 500, history: 4, deepVersions: 10_000, listKeys: 10_000, listVersions: 10, listSamples: 100, listMaxS: 5 },
    branches: {
      keys: 100_000,
      changes: 1000,
      deepVersions: 100_000,
      creations: 100,
      chainWrites: 100,
      getRounds: 300,
      listRounds: 100,
      diffRounds: 10,
      merges: 5,
      maxS: 60,
    },
  },
  full: {
    name: 'full',
    largeSize: 64 * MiB,
    largeCount: { 1: 8, 8: 32 },
    largeConcurrency: [1, 8],
    largeGetRounds: 3,
    smallSize: 4096,
    smallConcurrency: [1, 16, 64],
    smallPutS: 10,
    smallGetS: 6,
    listKeys: 100_000,
    listKeysPerFolder: 10,
    listSamples: 300,
    listMaxS: 30,
    mpuSize: 1024 * MiB,
    mpuPartSize: 16 * MiB,
    mpuConcurrency: 4,
    cost: { largeCount: 8, smallPutS: 6, smallGetS: 4 },
    versioning: { keys: 2000, history: 4, deepVersions: 100_000, listKeys: 20_000, listVersions: 10, listSamples: 300, listMaxS: 30 },
    branches: {
      keys: 1_000_000,
      changes: 10_000,
      deepVersions: 100_000,
      creations: 300,
      chainWrites: 100,
      getRounds: 1000,
      listRounds: 200,
      diffRounds: 10,
      merges: 3,
      maxS: 120,
    },
  },
};

/** The plan the cost section runs: the large and small workloads, cut down to c=1 and c=16. */
export function costPlan(plan: Plan): Plan {
  return {
    ...plan,
    largeConcurrency: [1],
    largeCount: { 1: plan.cost.largeCount },
    smallConcurrency: [16],
    smallPutS: plan.cost.smallPutS,
    smallGetS: plan.cost.smallGetS,
  };
}
