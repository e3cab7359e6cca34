/**
 * What one bridge delivery costs Temporal by default, as counts the floor workflow repeats with
 * activities that do nothing. Keep it equal to workflows/messageDelivery.ts and
 * activities/agentExchange.ts: the benchmark compares it with a bridge delivery's history and
 * warns when they differ.
 */
export interface DeliveryShape {
  /**
   * `patched()` ids a delivery runs through: the SDK records a marker and upserts the
   * `TemporalChangeVersion` search attribute for each (an upsert action apiece).
   */
  patches: number;
  /** Local activities before the exchange (typing on). */
  localActivitiesBefore: number;
  /** Search-attribute upserts before the exchange (status `exchanging`). */
  upsertsBefore: number;
  /**
   * Heartbeats the exchange (one activity on the agent task queue) sends: the bridge's beats at
   * each phase change, but the SDK sends the first at once and throttles the rest. Heartbeats
   * leave no history event: the benchmark compares the heartbeat actions instead.
   */
  exchangeHeartbeats: number;
  /** Heartbeats each post activity sends (the bridge's records its progress). */
  postHeartbeats: number;
  /** Signals the exchange sends to the delivery, per agent reply it hands over by signal. */
  signalsPerReply: number;
  /** The last reply comes back in the exchange's result instead of a signal. */
  lastReplyInResult: boolean;
  /** Post activities on the workflow task queue, per agent reply. */
  postsPerReply: number;
  /**
   * Replies the exchange posts itself (no post activity): none, a delivery's one and only reply,
   * or every reply as it arrives.
   */
  repliesPostedByExchange: 'none' | 'sole' | 'every';
  /** Local activities after the replies (typing off). */
  localActivitiesAfter: number;
  /** Search-attribute upserts at the end (the outcome). */
  upsertsAfter: number;
}

export const BRIDGE_DELIVERY_SHAPE: DeliveryShape = {
  patches: 0,
  localActivitiesBefore: 0,
  upsertsBefore: 0,
  exchangeHeartbeats: 0,
  postHeartbeats: 0,
  signalsPerReply: 1,
  lastReplyInResult: true,
  postsPerReply: 1,
  repliesPostedByExchange: 'every',
  localActivitiesAfter: 0,
  upsertsAfter: 0,
};

/** What a delivery's history shows of its shape (heartbeats leave no event). */
export interface HistoryShape {
  /** `patched()` markers (each comes with a TemporalChangeVersion upsert). */
  patches: number;
  localActivities: number;
  /** Upserts of the workflow's own search attributes (patch upserts apart). */
  upserts: number;
  /** Scheduled activities on the `workflow` and the `agent` task queue. */
  activitiesByQueue: Record<string, number>;
  signals: number;
}

/** The history counts a floor delivery with this shape and `replies` replies records. */
export function expectedHistoryShape(shape: DeliveryShape, replies: number): HistoryShape {
  return {
    patches: shape.patches,
    localActivities: shape.localActivitiesBefore + shape.localActivitiesAfter,
    upserts: shape.upsertsBefore + shape.upsertsAfter,
    activitiesByQueue: {
      agent: 1,
      workflow: postActivities(shape, replies),
    },
    signals: shape.signalsPerReply * signalledReplies(shape, replies),
  };
}

/** Replies the exchange hands over by signal (the rest come with its result). */
export function signalledReplies(shape: DeliveryShape, replies: number): number {
  return shape.lastReplyInResult ? Math.max(0, replies - 1) : replies;
}

/** Post activities a delivery with `replies` replies schedules. */
export function postActivities(shape: DeliveryShape, replies: number): number {
  return exchangePostsReplies(shape, replies) ? 0 : shape.postsPerReply * replies;
}

/** The exchange posts the delivery's replies itself. */
export function exchangePostsReplies(shape: DeliveryShape, replies: number): boolean {
  const posted = shape.repliesPostedByExchange;
  return posted === 'every' || (posted === 'sole' && replies === 1);
}
