/**
 * Property-based fuzzing of aws-chunked uploads (PutObject and UploadPart),
 * on both engines: random payloads cut into random chunk sizes, in the three
 * streaming modes, with one framing mutation each (test/support/chunked-fuzz.ts),
 * with or without a header that fails validation before the body is read —
 * an unknown x-amz-sdk-checksum-algorithm, a decoded length over the size
 * limit, If-None-Match: * on an existing key, a bad part number (issue 12,
 * finding 1: such a request used to stop the process once its body ended).
 *
 * Each run: the exact answer for a refused header, a 4xx for a damaged body,
 * a 200 with the very bytes for a valid one; no process-level error; nothing
 * written by a refused request; no staged file left behind.
 */
import { createHash } from 'node:crypto';

import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { expect, it } from 'vitest';

import { describeEachEngine, type TestAnvil } from '../support/anvil.js';
import {
  buildChunkedBody,
  chunkingArb,
  type ChunkMutation,
  chunkMutationArb,
  CONTENT_SHA256,
  declaredLength,
  hasTrailer,
  type StreamingMode,
} from '../support/chunked-fuzz.js';
import { expectClientError, expectNoStagedFiles, fuzzParams, fuzzSuite, restoring, Sentinels } from '../support/fuzz.js';
import { sdkSigner } from '../support/sdk-signer.js';
import { objectPath, send, sign, type WireResponse } from '../support/wire.js';
import { textsIn } from '../support/xml-fuzz.js';

const BUCKET = 'fuzz-chunked';
const EXISTING = 'existing';
const MAX_OBJECT_SIZE = 1024 * 1024;

const md5Hex = (b: Buffer) => createHash('md5').update(b).digest('hex');

type PutPreflight = 'none' | 'bad-algorithm' | 'too-large' | 'if-none-match' | 'no-decoded-length';
type PartPreflight = 'none' | 'bad-algorithm' | 'part-number-0' | 'part-number-10001' | 'no-such-upload' | 'no-decoded-length';

/** The exact answer to a request refused on its headers alone. */
const PREFLIGHT_ANSWER: Record<Exclude<PutPreflight | PartPreflight, 'none'>, { status: number; code: string }> = {
  'bad-algorithm': { status: 400, code: 'InvalidRequest' },
  'too-large': { status: 400, code: 'EntityTooLarge' },
  'if-none-match': { status: 412, code: 'PreconditionFailed' },
  'no-decoded-length': { status: 411, code: 'MissingContentLength' },
  'part-number-0': { status: 400, code: 'InvalidArgument' },
  'part-number-10001': { status: 400, code: 'InvalidArgument' },
  'no-such-upload': { status: 404, code: 'NoSuchUpload' },
};

const modeArb = fc.constantFrom<StreamingMode>('signed', 'signed-trailer', 'unsigned-trailer');

describeEachEngine('fuzz: aws-chunked framing', (engine) => {
  let t: TestAnvil;
  let sentinels: Sentinels;
  let n = 0;

  const watch = fuzzSuite(engine, {
    bucket: BUCKET,
    overrides: { maxObjectSize: MAX_OBJECT_SIZE },
    ready: (suite) => ({ t, sentinels } = suite),
    seed: async () => {
      await sentinels.put(EXISTING, 'kept as it was');
    },
  });

  /** Signs the head (without content-length, so the framing can be damaged after signing) and sends the body. */
  async function chunkedRequest(
    path: string,
    query: Record<string, string>,
    mode: StreamingMode,
    payload: Buffer,
    chunks: number[],
    mutation: ChunkMutation,
    extra: Record<string, string>,
    omitDecodedLength: boolean,
  ): Promise<{ res: WireResponse; mustReject: boolean; what: string }> {
    const headers: Record<string, string> = {
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(declaredLength(mutation, payload)),
      ...(hasTrailer(mode) ? { 'x-amz-trailer': 'x-amz-checksum-crc32' } : {}),
      ...extra,
    };
    if (omitDecodedLength) delete headers['x-amz-decoded-content-length'];
    const signed = await sign(t, 'PUT', path, { query, headers, payloadHash: CONTENT_SHA256[mode] });
    const signing =
      mode === 'unsigned-trailer'
        ? undefined
        : {
            signer: sdkSigner({ accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey }, t.config.region),
            signingDate: signed.signingDate,
            region: t.config.region,
            seed: signed.seed,
          };
    const built = await buildChunkedBody(mode, payload, chunks, mutation, signing);
    const what = `${mode} ${built.label} chunks=${JSON.stringify(chunks)} extra=${JSON.stringify(extra)}${omitDecodedLength ? ' no decoded length' : ''}`;
    const res = await send(t, 'PUT', signed.pathAndQuery, { ...signed.headers, 'content-length': String(built.body.length) }, built.body);
    return { res, mustReject: built.mustReject, what };
  }

  async function getObject(key: string): Promise<WireResponse> {
    const s = await sign(t, 'GET', objectPath(BUCKET, key));
    return send(t, 'GET', s.pathAndQuery, s.headers);
  }

  it('PutObject: valid framings store the exact bytes; damaged ones and refused headers answer 4xx and write nothing', async () => {
    const arb = fc.record({
      mode: modeArb,
      chunking: chunkingArb,
      mutation: chunkMutationArb,
      preflight: fc.constantFrom<PutPreflight>('none', 'none', 'none', 'bad-algorithm', 'too-large', 'if-none-match', 'no-decoded-length'),
      seed: fc.integer(),
    });
    await fc.assert(
      fc.asyncProperty(
        arb,
        restoring(
          async ({ mode, chunking, mutation, preflight, seed }) => {
            const payload = Buffer.from(Uint8Array.from({ length: chunking.length }, (_, i) => (seed + i * 31) & 0xff));
            const key = preflight === 'if-none-match' ? EXISTING : `chunked-${n++}`;
            const extra: Record<string, string> = {};
            if (preflight === 'bad-algorithm') extra['x-amz-sdk-checksum-algorithm'] = 'MD17';
            if (preflight === 'too-large') extra['x-amz-decoded-content-length'] = String(MAX_OBJECT_SIZE + 1);
            if (preflight === 'if-none-match') extra['if-none-match'] = '*';
            const { res, mustReject, what } = await chunkedRequest(
              objectPath(BUCKET, key),
              {},
              mode,
              payload,
              chunking.chunks,
              mutation,
              extra,
              preflight === 'no-decoded-length',
            );
            const label = `${what} → ${res.status} ${res.code ?? ''}`;
            await watch.assertNone(label);
            if (preflight !== 'none') {
              expect({ status: res.status, code: res.code }, label).toEqual(PREFLIGHT_ANSWER[preflight]);
            } else if (mustReject) {
              expectClientError(res.status, [], label);
            } else {
              expect(res.status, label).toBe(200);
            }
            const got = await getObject(key);
            if (key === EXISTING) {
              expect(got.text, label).toBe('kept as it was');
            } else if (res.status === 200) {
              expect(got.status, label).toBe(200);
              expect(got.body.equals(payload), `stored bytes differ: ${label}`).toBe(true);
            } else {
              expect(got.status, `object written by a refused upload: ${label}`).toBe(404);
            }
            await expectNoStagedFiles(t);
          },
          () => sentinels.resync(),
        ),
      ),
      fuzzParams(60),
    );
    await sentinels.assertIntact((k) => k.startsWith('chunked-'));
  });

  it('UploadPart: valid framings store the exact part; damaged ones and refused headers answer 4xx and add no part', async () => {
    const key = 'multipart-target';
    const created = await t.s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    const uploadId = created.UploadId!;
    let partNumber = 0;
    async function parts(): Promise<Map<number, string>> {
      const s = await sign(t, 'GET', objectPath(BUCKET, key), { query: { uploadId } });
      const res = await send(t, 'GET', s.pathAndQuery, s.headers);
      expect(res.status).toBe(200);
      const numbers = textsIn(res.text, 'Part', 'PartNumber');
      const etags = textsIn(res.text, 'Part', 'ETag');
      return new Map(numbers.map((p, i) => [Number(p), etags[i].replace(/"/g, '')]));
    }
    const arb = fc.record({
      mode: modeArb,
      chunking: chunkingArb,
      mutation: chunkMutationArb,
      preflight: fc.constantFrom<PartPreflight>(
        'none',
        'none',
        'none',
        'bad-algorithm',
        'part-number-0',
        'part-number-10001',
        'no-such-upload',
        'no-decoded-length',
      ),
      seed: fc.integer(),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ mode, chunking, mutation, preflight, seed }) => {
        const payload = Buffer.from(Uint8Array.from({ length: chunking.length }, (_, i) => (seed + i * 17) & 0xff));
        partNumber = (partNumber % 9999) + 1;
        const number = preflight === 'part-number-0' ? '0' : preflight === 'part-number-10001' ? '10001' : String(partNumber);
        const extra: Record<string, string> = preflight === 'bad-algorithm' ? { 'x-amz-sdk-checksum-algorithm': 'MD17' } : {};
        const query = { partNumber: number, uploadId: preflight === 'no-such-upload' ? 'no-such-upload' : uploadId };
        const { res, mustReject, what } = await chunkedRequest(
          objectPath(BUCKET, key),
          query,
          mode,
          payload,
          chunking.chunks,
          mutation,
          extra,
          preflight === 'no-decoded-length',
        );
        const label = `part ${number}: ${what} → ${res.status} ${res.code ?? ''}`;
        await watch.assertNone(label);
        if (preflight !== 'none') {
          expect({ status: res.status, code: res.code }, label).toEqual(PREFLIGHT_ANSWER[preflight]);
        } else if (mustReject) {
          expectClientError(res.status, [], label);
        } else {
          expect(res.status, label).toBe(200);
        }
        const listed = await parts();
        if (res.status === 200) expect(listed.get(partNumber), label).toBe(md5Hex(payload));
        else expect(listed.has(partNumber), `part stored by a refused upload: ${label}`).toBe(false);
        await expectNoStagedFiles(t);
      }),
      fuzzParams(40),
    );
  });
});
