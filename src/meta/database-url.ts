/**
 * What the layers above need to know about a database URL without asking
 * which engine it names: whether several hosts may share it (so nodes are
 * told apart by id rather than by one data folder), and which local file
 * holds it (to lock it, or to check a deployment exists before opening it).
 */
import path from 'node:path';

import { parseDatabaseUrl } from './engine.js';

/** A database server that processes on several hosts can share (PostgreSQL); false for an embedded file. */
export function isSharedDatabase(url: string): boolean {
  return parseDatabaseUrl(url).kind === 'postgres';
}

/** The embedded database's file (absolute), or undefined when there is none (a server, or SQLite in memory). */
export function databaseFileOf(url: string): string | undefined {
  const { kind, target } = parseDatabaseUrl(url);
  if (kind !== 'sqlite' || target === ':memory:' || target === '') return undefined;
  return path.resolve(target);
}
