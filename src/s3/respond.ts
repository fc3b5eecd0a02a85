/** Writing S3 responses: XML documents, empty answers, and errors with the request id. */
import type { S3Request } from './context.js';
import type { S3Error } from './errors.js';
import { renderXml, type XmlNode } from './xml.js';

export function sendXml(r: S3Request, status: number, root: string, body: XmlNode, headers: Record<string, string> = {}): void {
  const text = Buffer.from(renderXml(root, body), 'utf8');
  r.res.writeHead(status, { ...headers, 'Content-Type': 'application/xml', 'Content-Length': text.length });
  r.res.end(text);
  r.stats.bytesOut += text.length;
}

export function sendEmpty(r: S3Request, status: number, headers: Record<string, string | number> = {}): void {
  r.res.writeHead(status, { 'Content-Length': 0, ...headers });
  r.res.end();
}

/** Renders an S3 error; HEAD responses carry no body, as S3 does. */
export function sendError(r: Pick<S3Request, 'req' | 'res' | 'requestId' | 'stats'>, err: S3Error, resource: string): void {
  if (r.res.headersSent) {
    r.res.destroy();
    return;
  }
  const body = renderXml(
    'Error',
    { Code: err.code, Message: err.message, ...err.extra, Resource: resource, RequestId: r.requestId },
    false,
  );
  const buf = Buffer.from(body, 'utf8');
  const headers: Record<string, string | number> = { ...err.headers, 'Content-Type': 'application/xml' };
  if (r.req.method === 'HEAD') {
    r.res.writeHead(err.status, { ...headers, 'Content-Length': 0 });
    r.res.end();
    return;
  }
  r.res.writeHead(err.status, { ...headers, 'Content-Length': buf.length });
  r.res.end(buf);
  r.stats.bytesOut += buf.length;
}
