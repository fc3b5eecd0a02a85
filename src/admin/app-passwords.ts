/**
 * The signed-in user's app passwords: generated secrets for tools, which log
 * in like a password but open narrowed sessions that can never manage
 * credentials. Managing them needs a full session (not an app password's).
 */
import type { AppPasswordInfo } from '../core/users.js';
import { requireFullSession, requireUser } from './access.js';
import { adminErrors } from './errors.js';
import { route } from './route.js';
import { AppPasswordList, CreateAppPassword, CreatedAppPassword, iso, isoOrNull } from './schemas.js';

function appPasswordJson(a: AppPasswordInfo) {
  return { ...a, createdAt: iso(a.createdAt), lastUsedAt: isoOrNull(a.lastUsedAt), revokedAt: isoOrNull(a.revokedAt) };
}

export const appPasswordRoutes = [
  route({
    method: 'GET',
    path: '/admin/v1/app-passwords',
    tag: 'app-passwords',
    summary: 'List your app passwords (never their secrets)',
    access: 'a signed-in user',
    auth: 'any',
    response: AppPasswordList,
    async handle({ principal, deps }) {
      const user = requireUser(principal);
      return { appPasswords: (await deps.users.listAppPasswords(user.userId)).map(appPasswordJson) };
    },
  }),
  route({
    method: 'POST',
    path: '/admin/v1/app-passwords',
    tag: 'app-passwords',
    summary: 'Create an app password, optionally narrowed by policies (the password is returned once)',
    access: 'a signed-in user, not through an app password',
    auth: 'any',
    body: CreateAppPassword,
    response: CreatedAppPassword,
    status: 201,
    async handle({ principal, body, deps }) {
      const user = requireFullSession(principal);
      return deps.users.createAppPassword(user.userId, body.name, body.policies);
    },
  }),
  route({
    method: 'DELETE',
    path: '/admin/v1/app-passwords/:idOrName',
    tag: 'app-passwords',
    summary: 'Revoke an app password and every session opened with it',
    access: 'a signed-in user, not through an app password',
    auth: 'any',
    async handle({ principal, params, deps }) {
      const user = requireFullSession(principal);
      if (!(await deps.users.revokeAppPassword(user.userId, params.idOrName))) {
        throw adminErrors.notFound(`no active app password ${params.idOrName}`);
      }
    },
  }),
];
