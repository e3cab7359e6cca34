import type { CarriedConversationState, CarriedConversationStateV1 } from './shared.js';

/** The version of the state this code carries across continue-as-new. */
export const CARRIED_STATE_VERSION = 2;

/**
 * Brings state carried by any earlier version of the actor to the current shape, so an actor
 * that continued-as-new before a deploy restarts on the new code. One step per version.
 */
export function migrateCarried(
  carried: CarriedConversationState | CarriedConversationStateV1,
): CarriedConversationState {
  const version: number = carried.version ?? 1;
  if (version > CARRIED_STATE_VERSION) {
    // Written by a newer deploy, then rolled back: refuse rather than drop what we cannot read.
    throw new Error(
      `carried conversation state has version ${version}; this code reads up to ${CARRIED_STATE_VERSION}`,
    );
  }
  if (carried.version === CARRIED_STATE_VERSION) return carried;
  // v1 → v2: the bridge's own message ids were not kept yet.
  return { ...carried, version: CARRIED_STATE_VERSION, ownMessageIds: [] };
}
