/**
 * Storage backends: list, drain, rebalance, undrain, remove. The logic is
 * work/backend-admin.ts (BackendAdmin); this is the one way the admin API
 * and `anvil admin backend …` reach it.
 */
import type { BackendAdmin } from '../../blobs/index.js';
import type { AdminServices } from '../deps.js';

export function backendAdmin(s: AdminServices): BackendAdmin {
  return s.core.blobs.admin(s.tasks);
}
