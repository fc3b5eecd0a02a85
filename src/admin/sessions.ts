/** The signed-in user's own sessions: list them, end one (a session from an app password may end only itself). */
import type { SessionInfo } from '../core/sessions.js';
import { requireUser } from './access.js';
import { adminErrors } from './errors.js';
import { route } from './route.js';
import { iso, SessionList } from './schemas.js';

function sessionJson(s: SessionInfo, currentId: string) {
  return { ...s, createdAt: iso(s.createdAt), lastUsedAt: iso(s.lastUsedAt), expiresAt: iso(s.expiresAt), current: s.id === currentId };
}

export const sessionRoutes = [
  route({
    method: 'GET',
    path: '/admin/v1/sessions',
    tag: 'sessions',
    summary: 'List your live sessions',
    access: 'a signed-in user',
    auth: 'any',
    response: SessionList,
    async handle({ principal, deps }) {
      const user = requireUser(principal);
      const sessions = await deps.sessions.listSessions(user.userId, user.sessionId);
      return { sessions: sessions.map((s) => sessionJson(s, user.sessionId)) };
    },
  }),
  route({
    method: 'DELETE',
    path: '/admin/v1/sessions/:id',
    tag: 'sessions',
    summary: 'End one of your sessions',
    access: 'a signed-in user; through an app password only the current session',
    auth: 'any',
    async handle({ principal, params, deps }) {
      const user = requireUser(principal);
      if (user.appPasswordId !== null && params.id !== user.sessionId) {
        throw adminErrors.forbidden('a session opened with an app password may end only itself');
      }
      if (!(await deps.sessions.revokeSession(user.userId, params.id))) throw adminErrors.notFound(`no live session ${params.id}`);
    },
  }),
];
