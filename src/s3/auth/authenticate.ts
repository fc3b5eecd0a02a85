/**
 * Authentication of S3 requests: SigV2 (sigv2.ts) when the request is signed
 * that way, else SigV4 or anonymous (sigv4.ts). The admin API calls sigv4.ts
 * directly: it speaks SigV4 only, and refuses SigV2 as an unsupported
 * mechanism whatever the `sigv2` option says.
 */
import { errors } from '../errors.js';
import { headerValue, parseQuery, splitUrl } from './canonical.js';
import {
  hasSigV2Query,
  isSigV2Authorization,
  type SigV2Options,
  sigV2TurnedOff,
  verifySigV2Header,
  verifySigV2Presigned,
} from './sigv2.js';
import {
  type AuthContext,
  authenticate,
  type AuthRequest,
  type AuthResult,
  hasQueryAuth,
  type PayloadMode,
  payloadModeOf,
} from './sigv4.js';

export async function authenticateS3(req: AuthRequest, ctx: AuthContext & { sigv2: SigV2Options }): Promise<AuthResult> {
  const { rawPath, rawQuery } = splitUrl(req.url);
  const query = parseQuery(rawQuery, false);
  const authorization = headerValue(req.headers, 'authorization');
  const v4Query = hasQueryAuth(query);
  const v2Header = authorization !== undefined && isSigV2Authorization(authorization);
  const v2Query = !v4Query && hasSigV2Query(query);
  if (!v2Header && !v2Query) return authenticate(req, ctx);

  if (authorization !== undefined && (v4Query || v2Query)) {
    throw errors.invalidArgument(
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      'Authorization',
      authorization,
    );
  }
  if (!ctx.sigv2.enabled) throw sigV2TurnedOff();
  const accessKeyId = v2Header
    ? await verifySigV2Header(req, ctx, ctx.sigv2, authorization, rawPath, rawQuery)
    : await verifySigV2Presigned(req, ctx, ctx.sigv2, rawPath, rawQuery);
  return { kind: 'signed', accessKeyId, payload: sigV2Payload(req) };
}

/**
 * SigV2 signs no payload. An x-amz-content-sha256 header is signed like
 * every x-amz-* header, though, so a body hash sent in it is held to, and an
 * unsigned-trailer stream is decoded; chunk signatures need SigV4's key.
 */
function sigV2Payload(req: AuthRequest): PayloadMode {
  const contentSha = headerValue(req.headers, 'x-amz-content-sha256');
  if (contentSha === undefined) return { type: 'unsigned' };
  const payload = payloadModeOf(contentSha.trim());
  if (payload.type === 'streaming-signed') {
    throw errors.invalidRequest('Signed aws-chunked payloads need AWS Signature Version 4 (AWS4-HMAC-SHA256), not Version 2.');
  }
  return payload;
}
