/**
 * The span of one S3 request: a server span, a child of the caller's trace
 * when the request carries one (W3C `traceparent`, through the propagator the
 * SDK registers), active while the request is handled so that the spans of
 * authentication, metadata transactions and backend I/O hang under it, and
 * ended when the response closes (finished or cut).
 *
 * The query string is left out of the span: presigned URLs carry their
 * signature and credential there.
 */
import type http from 'node:http';

import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

import { activeTracer } from '../tracing.js';

export function traceRequest(req: http.IncomingMessage, res: http.ServerResponse, handle: () => Promise<void>): Promise<void> {
  const tracer = activeTracer();
  if (!tracer) return handle();
  const parent = propagation.extract(context.active(), req.headers);
  const span = tracer.startSpan(
    `S3 ${req.method ?? 'GET'}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': req.method ?? 'GET',
        'url.path': (req.url ?? '/').split('?')[0],
        'url.scheme': 'http',
        'client.address': req.socket.remoteAddress ?? '',
        'user_agent.original': req.headers['user-agent'] ?? '',
      },
    },
    parent,
  );
  res.once('close', () => {
    span.setAttribute('http.response.status_code', res.statusCode);
    const requestId = res.getHeader('x-amz-request-id');
    if (requestId !== undefined) span.setAttribute('anvil.request_id', String(requestId));
    if (!res.writableFinished) span.setAttribute('anvil.aborted', true);
    if (res.statusCode >= 500 || !res.writableFinished) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  return context.with(trace.setSpan(parent, span), handle);
}
