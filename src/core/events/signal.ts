/**
 * In-process hints that a timeline may have new events: a feed waiting on it
 * looks again soon instead of at its next poll. A hint is sent when an event
 * is recorded (before its transaction commits), so it only shortens the wait;
 * the poll is what makes a waiter see writes of other nodes and what it
 * relies on.
 */
import { EventEmitter } from 'node:events';

const hints = new EventEmitter();
hints.setMaxListeners(0);

export function signalEvents(timelineId: string): void {
  if (hints.listenerCount(timelineId) > 0) hints.emit(timelineId);
}

/** Calls `fn` on each hint for the timeline until the returned function is called. */
export function onEventHint(timelineId: string, fn: () => void): () => void {
  hints.on(timelineId, fn);
  return () => hints.off(timelineId, fn);
}
