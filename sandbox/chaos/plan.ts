/**
 * A chaos run's script, computed from its seed before anything starts: when each customer
 * writes which message, and when each fault strikes. Pure, so the same seed always gives the
 * same run (up to the machine's timing).
 */
import { SeededRandom } from './random.js';

export interface WorkloadOptions {
  seed: number;
  messages: number;
  conversations: number;
  /** Customer messages per second, over all conversations. */
  rate: number;
  /** A customer writes up to this many messages in a row… */
  burst: number;
  /** …this far apart. */
  burstGapMs: number;
}

export interface FaultOptions {
  /** Worker SIGKILLs; each killed worker is started again after 0.5–3 s. */
  kills: number;
  /** Temporal dev server restarts (stop, wait `temporalDownMs`, start on the same file). */
  temporalRestarts: number;
  temporalDownMs: number;
  /** One agent outage this long (0 = none). */
  agentOutageMs: number;
  /** Chatwoot 5xx storms (each answers the next 3–10 bridge calls with 500, 502 or 503). */
  chatwoot5xx: number;
  /** Chatwoot 429 bursts (each answers the next 5–20 bridge calls 429, no Retry-After). */
  chatwoot429: number;
  /** Posts whose response is lost after Chatwoot saved the message. */
  lostResponses: number;
  /** One API outage this long (0 = none): longer than Chatwoot's retries, so catch-up must repair. */
  bridgeOutageMs: number;
}

export interface PlannedMessage {
  /** Order of writing over the whole run. */
  seq: number;
  conversationId: number;
  /** Order of writing within its conversation, from 0. */
  index: number;
  atMs: number;
}

export type PlannedFault =
  | { kind: 'worker-kill'; atMs: number; restartAfterMs: number; victim: number }
  | { kind: 'temporal-restart'; atMs: number; downMs: number }
  | { kind: 'agent-outage'; atMs: number; durationMs: number }
  | { kind: 'chatwoot-5xx'; atMs: number; status: number; count: number }
  | { kind: 'chatwoot-429'; atMs: number; count: number }
  | { kind: 'lost-response'; atMs: number; count: number }
  | { kind: 'bridge-outage'; atMs: number; durationMs: number };

export interface RunPlan {
  messages: PlannedMessage[];
  faults: PlannedFault[];
  /** When the last message is written, from the start. */
  sendWindowMs: number;
}

/** Conversation ids start here (any positive ids work with the fake Chatwoot). */
export const FIRST_CONVERSATION_ID = 1;

export function planRun(workload: WorkloadOptions, faults: FaultOptions): RunPlan {
  const root = new SeededRandom(workload.seed);
  const messages = planMessages(workload, root.fork('messages'));
  const sendWindowMs = messages.at(-1)?.atMs ?? 0;
  return { messages, faults: planFaults(faults, sendWindowMs, root.fork('faults')), sendWindowMs };
}

function planMessages(options: WorkloadOptions, random: SeededRandom): PlannedMessage[] {
  const interval = 1000 / options.rate;
  const perConversation = new Map<number, number>();
  const messages: PlannedMessage[] = [];
  while (messages.length < options.messages) {
    const conversationId = FIRST_CONVERSATION_ID + random.int(0, options.conversations - 1);
    const length = Math.min(random.int(1, options.burst), options.messages - messages.length);
    // Bursts start on the rate's grid, so the average rate holds whatever the burst size.
    const startMs = messages.length * interval;
    for (let i = 0; i < length; i++) {
      const index = perConversation.get(conversationId) ?? 0;
      perConversation.set(conversationId, index + 1);
      messages.push({
        seq: messages.length,
        conversationId,
        index,
        atMs: Math.round(startMs + i * options.burstGapMs),
      });
    }
  }
  return messages.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
}

/**
 * Faults fall inside the send window; the ones that stop a whole component each get their own
 * stretch of it (Temporal early, the agent in the middle, the bridge later) so their effects
 * can be told apart in the logs.
 */
function planFaults(options: FaultOptions, windowMs: number, random: SeededRandom): PlannedFault[] {
  const at = (from: number, to: number) => Math.round(random.between(from, to) * windowMs);
  const faults: PlannedFault[] = [];
  for (let i = 0; i < options.kills; i++) {
    faults.push({
      kind: 'worker-kill',
      atMs: at(0.05, 0.95),
      restartAfterMs: random.int(500, 3_000),
      victim: random.int(0, 1_000_000),
    });
  }
  for (let i = 0; i < options.temporalRestarts; i++) {
    const slot = 0.15 + (0.2 * i) / options.temporalRestarts;
    faults.push({
      kind: 'temporal-restart',
      atMs: at(slot, slot + 0.2 / options.temporalRestarts),
      downMs: options.temporalDownMs,
    });
  }
  if (options.agentOutageMs > 0) {
    faults.push({ kind: 'agent-outage', atMs: at(0.4, 0.5), durationMs: options.agentOutageMs });
  }
  for (let i = 0; i < options.chatwoot5xx; i++) {
    faults.push({
      kind: 'chatwoot-5xx',
      atMs: at(0.05, 0.95),
      status: random.pick([500, 502, 503]),
      count: random.int(3, 10),
    });
  }
  for (let i = 0; i < options.chatwoot429; i++) {
    faults.push({ kind: 'chatwoot-429', atMs: at(0.05, 0.95), count: random.int(5, 20) });
  }
  for (let i = 0; i < options.lostResponses; i++) {
    faults.push({ kind: 'lost-response', atMs: at(0.05, 0.95), count: random.int(1, 2) });
  }
  if (options.bridgeOutageMs > 0) {
    faults.push({
      kind: 'bridge-outage',
      atMs: at(0.55, 0.65),
      durationMs: options.bridgeOutageMs,
    });
  }
  return faults.sort((a, b) => a.atMs - b.atMs);
}
