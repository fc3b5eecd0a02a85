/**
 * OpenTelemetry tracing: off by default; when on, a request is a server span
 * (joining the caller's trace) with the spans of authentication, metadata
 * transactions and backend I/O beneath it. The spans are recorded by an
 * in-memory tracer written against @opentelemetry/api (test/support/tracing.ts);
 * the SDK that exports them over OTLP/HTTP is optional (node/tracing.ts).
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config/config.js';
import { startTracing, tracesUrl, TRACING_PACKAGES } from '../../src/node/tracing.js';
import { setTracer, withSpan } from '../../src/tracing.js';
import { describeEachEngine, s3Error, useAnvil } from '../support/anvil.js';
import { type RecordedSpan, RecordingTracer, registerTestTracingGlobals } from '../support/tracing.js';

registerTestTracingGlobals();

/** Waits (bounded) for the server span of the request that answered with this id: it ends when the response closes. */
async function requestSpan(tracer: RecordingTracer, requestId: string): Promise<RecordedSpan> {
  for (let i = 0; i < 200; i++) {
    const span = tracer.spans.find((s) => s.attributes['anvil.request_id'] === requestId && s.ended);
    if (span) return span;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no ended span for request ${requestId}`);
}

describeEachEngine('tracing', (engine) => {
  const t = useAnvil(engine, { buckets: ['traced'] });
  const tracer = new RecordingTracer();
  beforeAll(() => setTracer(tracer));
  afterAll(() => setTracer(undefined));
  afterEach(() => void tracer.spans.splice(0));

  it('makes a request a server span in the caller’s trace, with auth, metadata and backend spans beneath it', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const url = await getSignedUrl(t.s3, new PutObjectCommand({ Bucket: 'traced', Key: 'a/b.txt' }), { expiresIn: 300 });
    const res = await fetch(url, { method: 'PUT', body: 'hello traces', headers: { traceparent: `00-${traceId}-${callerSpan}-01` } });
    expect(res.status).toBe(200);
    const span = await requestSpan(tracer, res.headers.get('x-amz-request-id')!);

    expect(span.name).toBe('PutObject');
    expect(span.kind).toBe(SpanKind.SERVER);
    expect(span.traceId).toBe(traceId);
    expect(span.parentSpanId).toBe(callerSpan);
    expect(span.attributes).toMatchObject({
      'http.request.method': 'PUT',
      'url.path': '/traced/a/b.txt',
      'http.response.status_code': 200,
      'anvil.op': 'PutObject',
    });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    // The presigned query (signature, credential) is nowhere in the span.
    expect(JSON.stringify(span.attributes)).not.toMatch(/X-Amz-(Signature|Credential)/i);

    const beneath = tracer.descendantsOf(span);
    const names = beneath.map((s) => s.name);
    expect(names).toContain('anvil.auth');
    expect(names).toContain('anvil.meta.transaction');
    expect(names).toContain('anvil.backend.put');
    expect(beneath.find((s) => s.name === 'anvil.auth')!.parentSpanId).toBe(span.spanId);
    const put = beneath.find((s) => s.name === 'anvil.backend.put')!;
    expect(put.attributes).toMatchObject({ 'anvil.backend': 'local', 'anvil.backend.kind': 'fs' });
    const txn = beneath.find((s) => s.name === 'anvil.meta.transaction')!;
    expect(txn.attributes['db.system.name']).toBe(engine === 'postgres' ? 'postgresql' : 'sqlite');
    for (const s of beneath) {
      expect(s.traceId).toBe(traceId);
      expect(s.ended, s.name).toBe(true);
    }
  });

  it('starts a new trace without a traceparent, and reads go through a backend span too', async () => {
    await t.s3.send(new PutObjectCommand({ Bucket: 'traced', Key: 'r', Body: 'read me' }));
    tracer.spans.splice(0);
    const url = await getSignedUrl(t.s3, new GetObjectCommand({ Bucket: 'traced', Key: 'r' }), { expiresIn: 300 });
    const res = await fetch(url);
    expect(await res.text()).toBe('read me');
    const span = await requestSpan(tracer, res.headers.get('x-amz-request-id')!);
    expect(span.name).toBe('GetObject');
    expect(span.parentSpanId).toBeUndefined();
    const backendOps = tracer.descendantsOf(span).filter((s) => s.name.startsWith('anvil.backend.'));
    expect(backendOps.length).toBeGreaterThan(0);
  });

  it('marks the auth span failed when the signature is wrong, and the request span carries the 403', async () => {
    const bad = new S3Client({
      endpoint: t.endpoint,
      region: t.config.region,
      forcePathStyle: true,
      credentials: { accessKeyId: t.accessKeyId, secretAccessKey: 'not-the-secret-0000000000000000000000000' },
      maxAttempts: 1,
    });
    const err = await s3Error(bad.send(new PutObjectCommand({ Bucket: 'traced', Key: 'x', Body: 'x' })));
    bad.destroy();
    expect(err.$metadata.httpStatusCode).toBe(403);
    const span = await requestSpan(tracer, err.$metadata.requestId!);
    expect(span.attributes['http.response.status_code']).toBe(403);
    const auth = tracer.descendantsOf(span).find((s) => s.name === 'anvil.auth')!;
    expect(auth.status.code).toBe(SpanStatusCode.ERROR);
    expect(auth.exceptions.length).toBe(1);
    // A client's mistake is not the server's failure.
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('records nothing with tracing off', async () => {
    setTracer(undefined);
    try {
      await t.s3.send(new PutObjectCommand({ Bucket: 'traced', Key: 'quiet', Body: 'q' }));
      expect(tracer.spans).toEqual([]);
    } finally {
      setTracer(tracer);
    }
  });
});

describe('tracing settings', () => {
  const silent = pino({ level: 'silent' });

  it('is off unless an endpoint is configured, and OTEL_SDK_DISABLED turns it off', async () => {
    expect(loadConfig({}, {}).tracingEndpoint).toBeUndefined();
    expect(tracesUrl({ tracingEndpoint: undefined }, {})).toBeUndefined();
    expect(await startTracing({ tracingEndpoint: undefined }, silent, {})).toBeUndefined();
    expect(tracesUrl({ tracingEndpoint: 'http://c:4318' }, { OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
  });

  it('reads tracing_endpoint from the file and OTEL_EXPORTER_OTLP_ENDPOINT from the environment, and sends to /v1/traces', () => {
    expect(loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracingEndpoint).toBe('http://collector:4318/');
    expect(tracesUrl({ tracingEndpoint: 'http://collector:4318/' }, {})).toBe('http://collector:4318/v1/traces');
    expect(tracesUrl({ tracingEndpoint: 'http://collector:4318' }, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://other:4318/t' })).toBe(
      'http://other:4318/t',
    );
    expect(tracesUrl({ tracingEndpoint: undefined }, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://other:4318/t' })).toBe(
      'http://other:4318/t',
    );
    expect(() => loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/tracing_endpoint must be an http\(s\) URL/);
  });

  const require = createRequire(import.meta.url);
  const sdkInstalled = TRACING_PACKAGES.every((name) => {
    try {
      require.resolve(name);
      return true;
    } catch {
      return false;
    }
  });

  it.skipIf(sdkInstalled)('with the SDK not installed, warns naming the packages and runs without traces', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    expect(await startTracing({ tracingEndpoint: 'http://127.0.0.1:1' }, log, {})).toBeUndefined();
    expect(lines.length).toBe(1);
    const entry = JSON.parse(lines[0]!) as { level: number; msg: string; packages: string[] };
    expect(entry.level).toBe(40);
    expect(entry.packages).toEqual(TRACING_PACKAGES);
    expect(entry.msg).toContain('npm install @opentelemetry/sdk-trace-node');
  });
  it.skipIf(!sdkInstalled)('with the SDK installed, exports spans over OTLP/HTTP to <endpoint>/v1/traces', async () => {
    const received: Array<{ path: string; body: Buffer }> = [];
    const collector = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url ?? '', body: Buffer.concat(chunks) });
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    try {
      const port = (collector.address() as AddressInfo).port;
      const tracing = await startTracing({ tracingEndpoint: `http://127.0.0.1:${port}` }, silent, {});
      expect(tracing?.url).toBe(`http://127.0.0.1:${port}/v1/traces`);
      await withSpan('anvil.export-check', {}, async () => undefined);
      await tracing!.shutdown(); // flushes the batch
      expect(received.map((r) => r.path)).toContain('/v1/traces');
      expect(Buffer.concat(received.map((r) => r.body)).toString('latin1')).toContain('anvil.export-check');
    } finally {
      setTracer(undefined);
      await new Promise<void>((resolve) => collector.close(() => resolve()));
    }
  });
  if (!sdkInstalled) {
    it('cannot export over OTLP/HTTP here', () => {
      console.warn(`tracing: OpenTelemetry's SDK is not installed (${TRACING_PACKAGES.join(', ')}): the OTLP export path was NOT tested`);
    });
  }
});
