/** The blob area's data access: blob rows, locations, accounting, backend states, the GC queue, write intents. */
export * from './gc-queue.js';
export * from './intents.js';
export * from './locations.js';
export * from './rows.js';
export * from './states.js';
export * from './usage.js';
