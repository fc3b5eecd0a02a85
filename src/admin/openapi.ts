/**
 * The OpenAPI 3.1 document of the admin API, generated from the same route
 * declarations the router serves (route.ts) and the same zod schemas that
 * validate requests and shape responses (z.toJSONSchema). Named schemas
 * (schemas.ts `named`) become #/components/schemas/<name>.
 */
import { z } from 'zod';

import { type AdminRoute, successStatus } from './route.js';
import { pathParams } from './router.js';
import { ErrorBody } from './schemas.js';

type Json = Record<string, unknown>;

export function operationId(r: AdminRoute): string {
  const words = r.path
    .replace(/^\/admin\/v1\//, '')
    .split('/')
    .map((s) => (s.startsWith(':') ? `By-${s.slice(1)}` : s))
    .join('-')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return [r.method.toLowerCase(), ...words.map((w) => w[0].toUpperCase() + w.slice(1))].join('');
}

/** Converts zod schemas to JSON Schema, collecting named sub-schemas into one components map. */
class SchemaCollector {
  readonly schemas: Record<string, Json> = {};

  convert(schema: z.ZodType, io: 'input' | 'output'): Json {
    const js = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
    delete js.$schema;
    const defs = (js.$defs ?? {}) as Record<string, Json>;
    delete js.$defs;
    // Input and output forms of one named schema can differ (defaults make fields optional on input).
    const rename = new Map<string, string>();
    for (const [name, def] of Object.entries(defs)) {
      let target = name;
      const existing = this.schemas[name];
      if (existing && JSON.stringify(existing) !== JSON.stringify(tidy(def, (n) => `#/components/schemas/${n}`)))
        target = `${name}${io === 'input' ? 'Input' : 'Output'}`;
      rename.set(name, target);
    }
    const ref = (name: string) => `#/components/schemas/${rename.get(name) ?? name}`;
    for (const [name, def] of Object.entries(defs)) this.schemas[rename.get(name)!] = tidy(def, ref);
    return tidy(js, ref);
  }
}

/** Rewrites `#/$defs/X` references and drops the long regex zod writes next to format: date-time. */
function tidy(value: Json, ref: (name: string) => string): Json {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (!v || typeof v !== 'object') return v;
    const out: Json = {};
    for (const [k, x] of Object.entries(v as Json)) {
      if (k === '$ref' && typeof x === 'string' && x.startsWith('#/$defs/')) out[k] = ref(x.slice('#/$defs/'.length));
      else if (k === 'pattern' && (v as Json).format === 'date-time') continue;
      else out[k] = walk(x);
    }
    return out;
  };
  return walk(value) as Json;
}

const ERROR_RESPONSES: Record<string, string> = {
  '400': 'InvalidRequest: the body, query or path is not valid (`path` says where)',
  '401': 'Unauthorized: no or invalid credentials',
  '403': 'Forbidden: authenticated, but not allowed',
  '404': 'NotFound (also for resources of other tenants)',
  '409': 'Conflict',
  '429': 'TooManyAttempts (Retry-After says when to try again)',
  '500': 'InternalError',
};

export function buildOpenApi(routes: AdminRoute[], version: string): Json {
  const collector = new SchemaCollector();
  const errorRef = { $ref: '#/components/schemas/Error' };
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const oasPath = r.path.replace(/:([^/]+)/g, '{$1}');
    const parameters: Json[] = pathParams(r.path).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
    if (r.query) {
      const q = collector.convert(r.query, 'input');
      const props = (q.properties ?? {}) as Record<string, Json>;
      const required = new Set((q.required ?? []) as string[]);
      for (const [name, schema] of Object.entries(props)) {
        const { description, ...rest } = schema;
        parameters.push({ name, in: 'query', required: required.has(name), schema: rest, ...(description ? { description } : {}) });
      }
    }
    const status = String(successStatus(r));
    const responses: Json = {
      [status]: r.response
        ? { description: 'OK', content: { 'application/json': { schema: collector.convert(r.response, 'output') } } }
        : { description: 'No Content' },
    };
    for (const other of r.otherStatuses ?? []) {
      responses[String(other.status)] = r.response
        ? { description: other.description, content: { 'application/json': { schema: collector.convert(r.response, 'output') } } }
        : { description: other.description };
    }
    for (const [code, description] of Object.entries(ERROR_RESPONSES)) {
      if (code === '401' && r.auth === 'none' && !r.path.includes('/auth/')) continue;
      if (code === '429' && !r.path.endsWith('/auth/login')) continue;
      responses[code] = { description, content: { 'application/json': { schema: errorRef } } };
    }
    const op: Json = {
      operationId: operationId(r),
      summary: r.summary,
      tags: [r.tag],
      security: r.auth === 'none' ? [] : r.auth === 'bearer' ? [{ bearer: [] }] : [{ sigv4: [] }, { bearer: [] }],
      ...(r.access ? { description: `Who may call it: ${r.access}.` } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(r.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: collector.convert(r.body, 'input') } } } }
        : {}),
      responses,
    };
    paths[oasPath] = { ...(paths[oasPath] ?? {}), [r.method.toLowerCase()]: op };
  }
  // The error body is named in schemas.ts; make sure it is present even if no route returned it.
  collector.convert(ErrorBody, 'output');
  return {
    openapi: '3.1.0',
    info: {
      title: 'Anvil admin API',
      version,
      description:
        'JSON administration API of Anvil, served under /admin/v1/ on the S3 port. Authenticate with an access key ' +
        '(AWS SigV4, service "s3", the server region; the body hash in x-amz-content-sha256) or with a bearer access ' +
        'token from POST /admin/v1/auth/login. Errors are {"error": {"code", "message"}} with stable codes.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: '/' }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: collector.schemas,
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description: 'AWS Signature Version 4 (AWS4-HMAC-SHA256), exactly as for S3 requests, with an Anvil access key.',
        },
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'An access token from /admin/v1/auth/login or /auth/refresh.',
        },
      },
    },
  };
}
