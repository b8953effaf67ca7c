export { startInspectService, showActor, listActors, workerStats } from './inspect-service.js';
export type { InspectService } from './inspect-service.js';
export type { InspectTarget, InspectLane } from './inspect-target.js';
export { InspectClient, InspectError } from './client.js';
export type { InspectFailure } from './client.js';
export { describeActor, conditionText } from './actor-view.js';
export { readFiltered, lastSeqOf, pendingAfter, StreamMissingError } from './stream-reader.js';
export type { StoredMsg } from './stream-reader.js';
export type * from './protocol.js';
