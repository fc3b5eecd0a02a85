/**
 * How an admin API route is declared: once, with everything the router and
 * the OpenAPI document need (method, path, summary, who may call it, the zod
 * schemas of query, body and response, and the handler).
 */
import type http from 'node:http';

import type { z } from 'zod';

import type { Principal } from './auth.js';
import type { AdminDeps } from './deps.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/** none: anyone; any: SigV4 key or bearer token; bearer: an access token only (a user's session). */
export type AuthRequirement = 'none' | 'any' | 'bearer';

export interface HandlerContext<Q, B, A extends AuthRequirement> {
  principal: A extends 'none' ? null : Principal;
  /** Path parameters, percent-decoded. */
  params: Record<string, string>;
  query: Q;
  body: B;
  req: http.IncomingMessage;
  /** The answer, for handlers that watch it (a long poll ends when the client goes away); the server writes it. */
  res: http.ServerResponse;
  deps: AdminDeps;
  clientAddress: string | undefined;
  userAgent: string | undefined;
}

export interface RouteSpec<QS extends z.ZodType, BS extends z.ZodType, RS extends z.ZodType, A extends AuthRequirement> {
  method: HttpMethod;
  /** `/admin/v1/tenants/:tenant`: `:name` segments are parameters. */
  path: string;
  summary: string;
  /** OpenAPI tag (the resource group). */
  tag: string;
  auth: A;
  /** Who may call it, in words, for the document (the handler enforces it). */
  access?: string;
  query?: QS;
  body?: BS;
  /** Absent: the route answers 204 No Content. */
  response?: RS;
  /** Success status (default 200, or 204 without a response schema). */
  status?: number;
  /** Other success statuses a handler may answer with (through Reply), for the document. */
  otherStatuses?: Array<{ status: number; description: string }>;
  handle(ctx: HandlerContext<z.output<QS>, z.output<BS>, A>): Promise<z.input<RS> | Reply<z.input<RS>> | Streamed | void>;
}

/** A handler's answer with a status other than the route's usual one (202 Accepted for work left to a task). */
export class Reply<T> {
  constructor(
    readonly status: number,
    readonly value: T,
  ) {}
}

/**
 * A handler's answer written by itself, over time (Server-Sent Events): the
 * server hands it the response once the request is authenticated and valid.
 */
export class Streamed {
  constructor(readonly write: (res: http.ServerResponse) => Promise<void>) {}
}

/** A declared route with its types erased, as the router and the document see it. */
export interface AdminRoute {
  method: HttpMethod;
  path: string;
  summary: string;
  tag: string;
  auth: AuthRequirement;
  access?: string;
  query?: z.ZodType;
  body?: z.ZodType;
  response?: z.ZodType;
  status?: number;
  otherStatuses?: Array<{ status: number; description: string }>;
  handle(ctx: HandlerContext<any, any, any>): Promise<unknown>;
}

/** Declares a route, inferring the handler's types from the schemas. */
export function route<
  QS extends z.ZodType = z.ZodUndefined,
  BS extends z.ZodType = z.ZodUndefined,
  RS extends z.ZodType = z.ZodVoid,
  A extends AuthRequirement = 'any',
>(spec: RouteSpec<QS, BS, RS, A>): AdminRoute {
  return spec as unknown as AdminRoute;
}

export function successStatus(r: AdminRoute): number {
  return r.status ?? (r.response ? 200 : 204);
}
