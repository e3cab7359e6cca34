/** The line a floor worker process prints once both of its workers poll. */
export const FLOOR_WORKER_READY = 'floor worker started';
