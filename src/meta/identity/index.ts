/** The identity area of the control plane: tenants, access keys, users, app passwords, sessions, login counters, master-key rows. */
export * from './access-keys.js';
export * from './app-passwords.js';
export * from './login-failures.js';
export * from './master-keys.js';
export * from './sessions.js';
export * from './tenants.js';
export * from './unique.js';
export * from './users.js';
