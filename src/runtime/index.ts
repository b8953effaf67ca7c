export { Engine } from './engine.js';
export type { EngineStatus, PartitionStatus } from './engine.js';
export { PartitionProcessor } from './partition-processor.js';
export type { InputMessage, Output, ProcessorOptions } from './partition-processor.js';
export { ActorHost } from './actor-host.js';
export type { SnapshotSource, Delivery, ActorInput } from './actor-host.js';
export { TimerQueue } from './timer-queue.js';
export { OutputSink } from './output-sink.js';
export { captureCheckpoint, restoreProcessors } from './checkpoint.js';
