import {
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  executeChild,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { initialTransition, transition } from 'xstate';
import type { BridgeActivities } from '../activities/index.js';
import { bridgeSourceId } from '../chatwoot/sourceId.js';
import {
  conversationMachine,
  conversationStateOf,
  type ConversationEvent,
  type QueuedMessage,
  type TurnOutcome,
} from '../machines/conversation.js';
import { sessionMachine, type SessionEvent } from '../machines/session.js';
import { chatwootOptions } from './activityOptions.js';
import { CARRIED_STATE_VERSION, migrateCarried } from './conversationCarried.js';
import { handOverToTeam, type HandOverOrder } from './humanHandOver.js';
import {
  messageDeliveryV2Workflow,
  messageDeliveryV3Workflow,
  messageDeliveryV4Workflow,
  messageDeliveryWorkflow,
} from './messageDelivery.js';
import { messageDeliveryStartOptions } from './searchAttributes.js';
import { bridgeMetrics } from './sinks.js';
import {
  conversationEventSignal,
  conversationStateQuery,
  messageWorkflowId,
  replyPostedSignal,
  submitMessageUpdate,
  type AgentRouteSettings,
  type ConversationActorInput,
  type CarriedConversationState,
  type ConversationCounters,
  type ConversationFacts,
  type ConversationSignal,
  type ConversationView,
  type DeliveryReport,
  type InboundMessage,
  type MessageDeliveryInput,
  type SubmitMessageResult,
} from './shared.js';

type Queued = QueuedMessage<{ message: InboundMessage; route: AgentRouteSettings }>;
type ConversationSnapshot = ReturnType<typeof initialTransition<typeof conversationMachine>>[0];
type SessionSnapshot = ReturnType<typeof initialTransition<typeof sessionMachine>>[0];

/** First replies kept for `?wait=` callers (a retried webhook may ask again). */
const FIRST_REPLY_MEMORY = 100;
/** Chatwoot ids of the bridge's own messages kept to recognise their webhooks. */
const OWN_MESSAGE_MEMORY = 200;
/** For actors started before `reorderWindowMs` was a setting. */
const DEFAULT_REORDER_WINDOW_MS = 300;

/** A turn that answers the bot's interactive message hands the answer on to the agent (2026-12). */
const TURN_ANSWERS_PATCH = 'turn-carries-answers';

/**
 * Changes in behaviour since the first recorded histories (test/replay/), each decided once
 * per run: a run recorded before a change replays as it was recorded, a new run has it.
 */
const PATCHES = {
  /** Turns in the order Chatwoot created the messages; reorder window at an idle head. */
  orderByCreation: 'conversation-order-by-creation',
  /** Conversation facts on events: a human owner pauses; a bot owner is no takeover. */
  takeoverFacts: 'conversation-takeover-facts',
  /** The bridge's own messages (by Chatwoot id) are never taken for a human's. */
  ownMessages: 'conversation-own-messages',
  /**
   * Messages held while paused are not remembered as seen: when the bot resumes, catch-up hands
   * them over again and they are answered (Chatwoot opened it only because the bot failed).
   */
  heldNotSeen: 'conversation-held-not-seen',
  /**
   * A customer message says `open` where the actor last heard `pending`: the status webhook
   * (Chatwoot opening it on the bot's failure) was lost. Paused as that webhook would have.
   */
  missedOpen: 'conversation-missed-open',
  /** The reorder wait restarts at each arrival (a burst spread out by a loaded host). */
  reorderSliding: 'conversation-reorder-sliding',
  /**
   * A pause on a status change alone (no human replied or took it: Chatwoot opens the
   * conversation on a bot failure too) lets the running turn finish instead of cancelling it;
   * a cancelled turn's message was never answered and, having a delivery, never handed again.
   */
  statusOnlyPauses: 'conversation-status-only-pause',
  /**
   * A customer message (or a label) asking for a person hands the conversation to the team: no
   * turn. Decided when such an event comes (before the change, the message was a turn and the
   * label event was ignored), so actors running at the deploy get it too.
   */
  customerAsksForHuman: 'customer-asks-for-human',
} as const;

/**
 * Every change in PATCHES in force, and deliveries run as `messageDeliveryV2Workflow`, under one
 * marker: each `patched()` call writes a marker and Temporal's own change-version search
 * attribute, a billed action apiece, at the start of every run. Runs recorded before it call the
 * individual patches as they did.
 */
const CONSOLIDATED_PATCH = 'conversation-2026-12-consolidated';

/**
 * The consolidated patch, and deliveries run as `messageDeliveryV3Workflow` (the exchange posts
 * a sole plain reply itself). Still one marker per run: a run that has it does not call the one
 * before.
 */
const V3_DELIVERIES_PATCH = 'conversation-2026-12-v3-deliveries';

/**
 * The consolidated patch, and deliveries run as `messageDeliveryV4Workflow` (the exchange posts
 * every plain reply itself). One marker per run, as for V3.
 */
const V4_DELIVERIES_PATCH = 'conversation-2026-12-v4-deliveries';

/** What the consolidated marker stands for (a change made after it still calls `patched()`). */
const IN_CONSOLIDATED: ReadonlySet<string> = new Set([
  ...Object.values(PATCHES),
  TURN_ANSWERS_PATCH,
]);

/**
 * One conversation's actor: receives every event about the conversation (signal-with-start
 * from the webhook), keeps the order, merges bursts, stops when a human takes over, and runs
 * one message-delivery child at a time, so all replies to one turn are posted before the next
 * turn goes to the agent. Lives as long as the conversation; continues-as-new when Temporal
 * suggests it, carrying its machines, queue, timers (as deadlines) and dedupe memory.
 */
export async function conversationWorkflow(
  input: ConversationActorInput,
): Promise<ConversationView> {
  const { accountId, conversationId, settings } = input;
  const actorId = workflowInfo().workflowId;
  const v4Deliveries = patched(V4_DELIVERIES_PATCH);
  const v3Deliveries = v4Deliveries || patched(V3_DELIVERIES_PATCH);
  const consolidated = v3Deliveries || patched(CONSOLIDATED_PATCH);
  const has = (change: string) => (consolidated && IN_CONSOLIDATED.has(change)) || patched(change);
  const orderByCreation = has(PATCHES.orderByCreation);
  const takeoverFacts = has(PATCHES.takeoverFacts);
  const ownMessages = has(PATCHES.ownMessages);
  const heldNotSeen = has(PATCHES.heldNotSeen);
  const missedOpen = has(PATCHES.missedOpen);
  /** Chatwoot's status as last heard (payloads and status webhooks); unknown after a new run. */
  let lastStatus: string | undefined;
  const carried = input.carried && migrateCarried(input.carried);
  const ordering = orderByCreation
    ? {
        orderByCreation: true,
        reorderWindowMs: settings.reorderWindowMs ?? DEFAULT_REORDER_WINDOW_MS,
        ...(has(PATCHES.reorderSliding) ? { reorderSliding: true } : {}),
      }
    : {};
  const statusOnlyPauses = has(PATCHES.statusOnlyPauses);
  const pauseSettings = statusOnlyPauses ? { statusOnlyPauses: true } : {};

  let conversation: ConversationSnapshot = carried
    ? conversationMachine.resolveState({
        ...(carried.conversation as Parameters<typeof conversationMachine.resolveState>[0]),
        // A run that continued from one without the order keeps its queue and gains the order.
        context: {
          ...(carried.conversation.context as ConversationSnapshot['context']),
          ...ordering,
          ...pauseSettings,
        },
      })
    : initialTransition(conversationMachine, {
        resumeAfterIdleMs: settings.resumeAfterIdleMs,
        ...ordering,
        ...pauseSettings,
      })[0];
  let session: SessionSnapshot = carried
    ? sessionMachine.resolveState(
        carried.session as Parameters<typeof sessionMachine.resolveState>[0],
      )
    : initialTransition(sessionMachine, { accountId, conversationId })[0];
  const seen: number[] = [...(carried?.seenMessageIds ?? [])];
  const seenSet = new Set(seen);
  /** Chatwoot ids of messages this bridge posted here, oldest first (bounded). */
  const own: number[] = [...(carried?.ownMessageIds ?? [])];
  const ownSet = new Set(own);
  /** Human messages that came while the bridge was posting: decided once the posts reported. */
  const undecidedHumanMessages: Extract<ConversationSignal, { type: 'human_message' }>[] = [];
  const counters: ConversationCounters = carried
    ? { ...carried.counters, runs: carried.counters.runs + 1 }
    : { messagesReceived: 0, duplicatesIgnored: 0, turnsStarted: 0, runs: 1 };

  const inbox: ConversationSignal[] = [...(carried?.pendingEvents ?? [])];
  const finishedTurns: Extract<ConversationEvent, { type: 'TURN_FINISHED' }>[] = [];
  const firstReplies = new Map<number, { content: string; workflowId: string }>();
  const settledMessages = new Set<number>();
  /** Messages a `?wait=` caller waits on: only their turns tell the actor of a first reply. */
  const waiters = new Set<number>();
  let running: { turnSeq: number; scope: CancellationScope; done: Promise<void> } | undefined;
  /** Children started and not yet reported back (a cancelled one may still be winding down). */
  let turnsInFlight = 0;
  /** Children actually running (a turn waiting for the one before it posts nothing yet). */
  let childrenRunning = 0;
  /** Greetings being posted. */
  let effects = 0;

  setHandler(conversationEventSignal, (event) => {
    inbox.push(event);
  });
  setHandler(replyPostedSignal, (notice) => {
    for (const messageId of notice.messageIds) {
      if (!firstReplies.has(messageId)) {
        firstReplies.set(messageId, { content: notice.content, workflowId: notice.workflowId });
      }
    }
    while (firstReplies.size > FIRST_REPLY_MEMORY) {
      firstReplies.delete(firstReplies.keys().next().value as number);
    }
  });
  setHandler(submitMessageUpdate, async ({ event, waitMs }): Promise<SubmitMessageResult> => {
    const { messageId } = event.message;
    waiters.add(messageId);
    inbox.push(event);
    await condition(
      () => firstReplies.has(messageId) || settledMessages.has(messageId),
      Math.max(1, waitMs),
    );
    waiters.delete(messageId);
    const reply = firstReplies.get(messageId);
    return reply
      ? { status: 'replied', conversationWorkflowId: actorId, reply }
      : { status: 'accepted', conversationWorkflowId: actorId };
  });
  setHandler(conversationStateQuery, () => view());

  // Every call passes its own options (from the route's delivery policy).
  const chatwoot = proxyActivities<BridgeActivities>({ startToCloseTimeout: '30 seconds' });

  const stepConversation = (event: ConversationEvent) => {
    const [next, actions] = transition(conversationMachine, conversation, event);
    conversation = next;
    for (const action of actions) {
      if (action.type === 'startTurn') startTurn();
      if (action.type === 'cancelTurn') running?.scope.cancel();
      if (action.type === 'startHandOver') {
        handOver((action.params as { request: HandOverOrder }).request);
      }
    }
  };

  const stepSession = (
    event: SessionEvent,
    greeting: string[] = [],
    route?: AgentRouteSettings,
  ) => {
    const [next, actions] = transition(sessionMachine, session, event);
    session = next;
    if (route && actions.some((action) => action.type === 'greet')) postGreeting(greeting, route);
  };

  /** Runs the current turn as a child; a turn waits for the previous one to finish (one at a time). */
  function startTurn(): void {
    const { turnSeq } = conversation.context;
    const turn = conversation.context.turn as Queued[];
    const previous = running?.done ?? Promise.resolve();
    const scope = new CancellationScope();
    counters.turnsStarted += 1;
    turnsInFlight += 1;
    const done = previous.then(async () => {
      let outcome: TurnOutcome = 'failed';
      let reason: string | undefined;
      childrenRunning += 1;
      try {
        const report = await scope.run(() => runTurn(turn));
        outcome = report.outcome;
        reason = report.reason;
        if (ownMessages) {
          for (const reply of report.replies) {
            if (reply.chatwootMessageId !== undefined) rememberOwn(reply.chatwootMessageId);
          }
        }
      } catch (error) {
        if (error instanceof WorkflowExecutionAlreadyStartedError) {
          outcome = 'duplicate';
          bridgeMetrics.duplicateDropped('message already delivered');
        } else if (isCancellation(error)) outcome = 'cancelled';
        else log.error('turn failed', { turnSeq, error: String(error) });
      }
      childrenRunning -= 1;
      for (const message of turn) settledMessages.add(message.messageId);
      turnsInFlight -= 1;
      finishedTurns.push({ type: 'TURN_FINISHED', turnSeq, outcome, reason, at: Date.now() });
    });
    running = { turnSeq, scope, done };
  }

  async function runTurn(turn: Queued[]): Promise<DeliveryReport> {
    const newest = turn.at(-1) as Queued;
    const { message, route } = newest.payload;
    const merged = turn.map((queued) => queued.payload.message);
    const childInput: MessageDeliveryInput = {
      accountId,
      conversationId,
      inboxId: message.inboxId,
      // A merged turn runs under its newest message's id: unique even after an aborted turn.
      messageId: message.messageId,
      agentId: route.agentId,
      content: merged
        .map((part) => part.content)
        .filter((content) => content.trim().length > 0)
        .join('\n'),
      attachments: merged.flatMap((part) => part.attachments),
      sender: message.sender,
      policy: route.policy,
      sessionId: session.context.sessionId,
      // A signal back costs the server work for every message; only a waiting caller needs it.
      ...(turn.some((queued) => waiters.has(queued.messageId)) ? { notifyFirstReply: true } : {}),
      ...(merged.length > 1 ? { mergedMessageIds: merged.map((part) => part.messageId) } : {}),
      ...answeredIn(merged),
    };
    const delivery = v4Deliveries
      ? messageDeliveryV4Workflow
      : v3Deliveries
        ? messageDeliveryV3Workflow
        : consolidated
          ? messageDeliveryV2Workflow
          : messageDeliveryWorkflow;
    return executeChild(delivery, {
      workflowId: messageWorkflowId(accountId, conversationId, message.messageId),
      args: [childInput],
      // The message's id stays taken: a webhook retried after the actor ended starts nothing.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      // A delivery never dies with its actor (e.g. an actor reset); it finishes on its own.
      parentClosePolicy: 'ABANDON',
      // V2 records a status only when there is one to search for (not `received`).
      ...messageDeliveryStartOptions(childInput, { initialStatus: !consolidated }),
    });
  }

  /** The customer's answer to the bot's buttons or form, when the turn carries one (the newest). */
  function answeredIn(merged: InboundMessage[]): Pick<MessageDeliveryInput, 'submittedValues'> {
    const answer = merged.findLast((part) => part.submittedValues)?.submittedValues;
    // Decided only for turns that carry an answer: older histories have none and replay as before.
    return answer && has(TURN_ANSWERS_PATCH) ? { submittedValues: answer } : {};
  }

  function postGreeting(greeting: string[], route: AgentRouteSettings): void {
    const sequence = session.context.sequence;
    effects += 1;
    const post = async () => {
      for (const [index, content] of greeting.entries()) {
        const posted = await chatwoot.createMessage.executeWithOptions(
          {
            ...chatwootOptions(route.policy),
            summary: `greeting ${index + 1}/${greeting.length} from ${route.agentId}`,
          },
          [
            {
              accountId,
              conversationId,
              content,
              private: false,
              sourceId: bridgeSourceId(actorId, `greeting-${sequence}-${index}`),
            },
          ],
        );
        if (ownMessages) rememberOwn(posted.chatwootMessageId);
      }
    };
    void post()
      .catch((error: unknown) => log.warn('greeting not posted', { error: String(error) }))
      .finally(() => {
        effects -= 1;
      });
  }

  /** The customer asked for a person: acknowledgement, conversation opened, private note. */
  function handOver(order: HandOverOrder): void {
    effects += 1;
    void handOverToTeam(chatwoot, { accountId, conversationId, actorId }, order)
      .then((posted) => {
        if (ownMessages) for (const id of posted) rememberOwn(id);
      })
      .catch((error: unknown) =>
        log.warn('hand-over to the team not completed', { error: String(error) }),
      )
      .finally(() => {
        effects -= 1;
      });
  }

  function handle(event: ConversationSignal): void {
    const now = Date.now();
    switch (event.type) {
      case 'customer_message': {
        const { messageId } = event.message;
        if (seenSet.has(messageId)) {
          counters.duplicatesIgnored += 1;
          bridgeMetrics.duplicateDropped('message already received');
          return;
        }
        remember(messageId);
        counters.messagesReceived += 1;
        if (
          missedOpen &&
          lastStatus === 'pending' &&
          event.conversation?.status === 'open' &&
          event.conversation.owner !== 'bot' &&
          !isPaused()
        ) {
          stepConversation({
            type: 'HUMAN_ACTIVE',
            reason: 'conversation open (its status change was not heard)',
            at: now,
            statusOnly: true,
          });
        }
        if (missedOpen && event.conversation?.status) lastStatus = event.conversation.status;
        if (takeoverFacts && humanOwns(event.conversation) && !isPaused()) {
          // The webhook missed the takeover (or came before it): the payload says who owns it.
          stepConversation({
            type: 'HUMAN_ACTIVE',
            reason: `${event.conversation?.ownerName ?? 'a human agent'} owns the conversation`,
            at: now,
          });
        }
        if (event.humanRequest && has(PATCHES.customerAsksForHuman)) {
          // No turn: the team takes it from here (a turn already running finishes first).
          settledMessages.add(messageId);
          stepConversation({
            type: 'HUMAN_REQUESTED',
            reason: event.humanRequest.reason,
            at: now,
            request: { request: event.humanRequest, policy: event.route.policy },
          });
          return;
        }
        stepSession({
          type: 'TURN',
          agentId: event.route.agentId,
          idleMs: event.route.sessionIdleMs,
          at: now,
        });
        stepConversation({
          type: 'MESSAGE',
          message: {
            messageId,
            receivedAt: now,
            ...(orderByCreation && event.message.createdAtMs !== undefined
              ? { createdAtMs: event.message.createdAtMs }
              : {}),
            debounce: event.route.debounce,
            abortOnNewer: event.route.abortOnNewer,
            payload: { message: event.message, route: event.route },
          },
        });
        if (conversationStateOf(conversation.value) === 'paused') settledMessages.add(messageId);
        return;
      }
      case 'human_message':
        if (ownMessages) {
          if (ownSet.has(event.messageId)) {
            // The bridge's own post, its `source_id` overwritten by the channel.
            bridgeMetrics.duplicateDropped('own message');
            return;
          }
          if (postsInFlight()) {
            // It may be a reply the running turn posted and has not reported yet.
            undecidedHumanMessages.push(event);
            return;
          }
        }
        stepConversation({
          type: 'HUMAN_ACTIVE',
          reason: `${event.senderName ?? 'a human agent'} replied`,
          at: now,
        });
        return;
      case 'status_changed':
        if (missedOpen) lastStatus = event.status;
        if (event.status === 'pending') {
          stepConversation({
            type: 'BOT_RESUMED',
            reason: 'conversation back in pending',
            at: now,
          });
        } else if (event.status === 'resolved') {
          stepConversation({ type: 'RESOLVED', reason: 'conversation resolved' });
        } else if (
          event.previousStatus === undefined ||
          event.previousStatus === 'pending' ||
          // Reopened from resolved or snoozed: a takeover only when a human owns it (a customer
          // reopens a conversation too, and in an inbox without an agent bot it opens).
          (takeoverFacts && event.status === 'open' && event.conversation?.owner === 'human')
        ) {
          stepConversation({
            type: 'HUMAN_ACTIVE',
            reason: `conversation ${event.status}`,
            at: now,
            // The status alone: Chatwoot's own bot-failure handler does this too.
            ...(event.conversation?.owner === 'human' ? {} : { statusOnly: true }),
          });
        }
        return;
      case 'assignee_changed':
        if (event.toBot || (takeoverFacts && event.conversation?.owner === 'bot')) {
          stepConversation({ type: 'BOT_RESUMED', reason: 'assigned back to the bot', at: now });
        } else if (event.assigneeId !== null) {
          const who = event.assigneeName ?? `user ${event.assigneeId}`;
          stepConversation({ type: 'HUMAN_ACTIVE', reason: `assigned to ${who}`, at: now });
        }
        return;
      case 'resolved':
        stepConversation({ type: 'RESOLVED', reason: 'conversation resolved' });
        return;
      case 'human_requested':
        // Before the change an actor ignored this event: a replay of such a run does too.
        if (!has(PATCHES.customerAsksForHuman)) return;
        stepConversation({
          type: 'HUMAN_REQUESTED',
          reason: event.request.reason,
          at: now,
          request: { request: event.request, policy: event.route.policy },
        });
        return;
      case 'greet':
        if (event.greeting.length === 0) return;
        // A widget reopened in a conversation a human has taken: the bot stays quiet.
        if (takeoverFacts && isPaused()) return;
        stepSession(
          {
            type: 'GREET',
            agentId: event.route.agentId,
            idleMs: event.route.sessionIdleMs,
            at: now,
          },
          event.greeting,
          event.route,
        );
        return;
    }
  }

  function rememberOwn(messageId: number): void {
    if (ownSet.has(messageId)) return;
    own.push(messageId);
    ownSet.add(messageId);
    while (own.length > OWN_MESSAGE_MEMORY) ownSet.delete(own.shift() as number);
  }

  /** A turn or a greeting may have posted messages it has not reported yet. */
  function postsInFlight(): boolean {
    return childrenRunning > 0 || effects > 0;
  }

  function isPaused(): boolean {
    return conversationStateOf(conversation.value) === 'paused';
  }

  /** Open and assigned to a person: the bot must not speak. A bot owner is the bot's. */
  function humanOwns(facts: ConversationFacts | undefined): boolean {
    return facts?.status === 'open' && facts.owner === 'human';
  }

  function remember(messageId: number): void {
    seen.push(messageId);
    seenSet.add(messageId);
    while (seen.length > settings.dedupeLimit) seenSet.delete(seen.shift() as number);
  }

  /** Held messages were never answered: a later hand-over of the same id must count. */
  function forgetHeld(): void {
    const held = conversation.context.heldMessageIds.filter((id) => seenSet.has(id));
    if (held.length === 0) return;
    for (const id of held) seenSet.delete(id);
    const kept = seen.filter((id) => seenSet.has(id));
    seen.splice(0, seen.length, ...kept);
  }

  function nextDueAt(): number | undefined {
    const due = [conversation.context.dueAt, session.context.dueAt].filter(
      (at): at is number => at !== undefined,
    );
    return due.length ? Math.min(...due) : undefined;
  }

  function view(): ConversationView {
    const dueAt = nextDueAt();
    return {
      state: conversationStateOf(conversation.value),
      queueLength: conversation.context.queue.length,
      turnMessageIds: conversation.context.turn.map((message) => message.messageId),
      turnsRunning: turnsInFlight,
      ...(conversation.context.pausedReason
        ? { pausedReason: conversation.context.pausedReason }
        : {}),
      heldMessageIds: conversation.context.heldMessageIds,
      ...(session.context.sessionId ? { sessionId: session.context.sessionId } : {}),
      sessionState: String(session.value),
      ...(dueAt !== undefined ? { nextTimerAt: new Date(dueAt).toISOString() } : {}),
      counters: { ...counters },
    };
  }

  let shownDetails = '';
  function showDetails(): void {
    const current = view();
    const lines = [
      `**State:** ${current.state}${current.turnMessageIds.length ? ` (messages ${current.turnMessageIds.join(', ')})` : ''}`,
      `**Queue:** ${current.queueLength} waiting`,
      `**Paused:** ${current.pausedReason ?? 'no'}${current.heldMessageIds.length ? ` (${current.heldMessageIds.length} held)` : ''}`,
      ...(undecidedHumanMessages.length
        ? [
            `**Human messages:** ${undecidedHumanMessages.length} waiting for the running turn's report (the bot's own replies or a person's)`,
          ]
        : []),
      `**Session:** ${current.sessionId ?? 'none'} (${current.sessionState})`,
      `**Handled:** ${counters.messagesReceived} messages, ${counters.turnsStarted} turns, run ${counters.runs}`,
      ...(current.nextTimerAt ? [`**Next timer:** ${current.nextTimerAt}`] : []),
    ];
    const details = lines.join('\n\n');
    if (details !== shownDetails) setCurrentDetails(details);
    shownDetails = details;
  }

  for (;;) {
    showDetails();
    const dueAt = nextDueAt();
    const wake = () => inbox.length > 0 || finishedTurns.length > 0 || humanMessagesDecidable();
    if (!wake()) {
      if (dueAt === undefined) await condition(wake);
      else if (dueAt > Date.now()) await condition(wake, dueAt - Date.now());
    }

    // Every post reported its Chatwoot id: what is not ours among the held messages is a
    // human's. Decided before the finished turn lets the next one start.
    if (humanMessagesDecidable() && conversation.status !== 'done') {
      for (const event of undecidedHumanMessages.splice(0)) handle(event);
    }
    for (let event = finishedTurns.shift(); event; event = finishedTurns.shift()) {
      stepConversation(event);
    }
    // Events after a resolve stay in the inbox: they belong to the conversation's next actor.
    while (inbox.length > 0 && conversation.status !== 'done') {
      handle(inbox.shift() as ConversationSignal);
    }
    if (heldNotSeen && isPaused()) forgetHeld();
    const now = Date.now();
    if (conversation.context.dueAt !== undefined && now >= conversation.context.dueAt) {
      stepConversation({ type: 'TICK', at: now });
    }
    if (session.context.dueAt !== undefined && now >= session.context.dueAt) {
      stepSession({ type: 'TICK', at: now });
    }

    if (conversation.status === 'done') {
      stepSession({ type: 'CLOSE' });
      await running?.done;
      await condition(() => effects === 0 && allHandlersFinished());
      showDetails();
      const later = takeoverFacts
        ? // A reopen, a human's reply, an assignment after the resolve: the next actor's too.
          [...undecidedHumanMessages.splice(0), ...inbox].filter(
            (event) =>
              event.type !== 'resolved' &&
              !(event.type === 'status_changed' && event.status === 'resolved'),
          )
        : inbox.filter((event) => event.type === 'customer_message');
      if (later.length > 0) {
        // The conversation goes on after the resolve: a fresh actor takes it from here.
        await continueAsNew<typeof conversationWorkflow>({
          accountId,
          conversationId,
          settings,
          carried: carriedState({ ...freshState(), pendingEvents: later }),
        });
      }
      return view();
    }

    if (workflowInfo().continueAsNewSuggested && readyToContinueAsNew()) {
      // A signal handler is still "in progress" until a few microtasks after it ran; updates
      // (`?wait=`) may wait for a reply. Let them finish, unless new work arrives meanwhile.
      const woken = () =>
        allHandlersFinished() ||
        inbox.length > 0 ||
        finishedTurns.length > 0 ||
        humanMessagesDecidable();
      const due = nextDueAt();
      if (due === undefined) await condition(woken);
      else if (due > Date.now()) await condition(woken, due - Date.now());
    }
    if (
      workflowInfo().continueAsNewSuggested &&
      readyToContinueAsNew() &&
      inbox.length === 0 &&
      allHandlersFinished()
    ) {
      await continueAsNew<typeof conversationWorkflow>({
        accountId,
        conversationId,
        settings,
        carried: carriedState({
          conversation: { value: conversation.value, context: conversation.context },
          session: { value: session.value, context: session.context },
          pendingEvents: [...undecidedHumanMessages.splice(0), ...inbox.splice(0)],
        }),
      });
    }
  }

  function humanMessagesDecidable(): boolean {
    return undecidedHumanMessages.length > 0 && !postsInFlight();
  }

  /**
   * What the next run starts from. Runs recorded before own-message ids were kept wrote the
   * unversioned shape (replays must see the same input); `migrateCarried` reads both.
   */
  function carriedState(
    state: Pick<CarriedConversationState, 'conversation' | 'session' | 'pendingEvents'>,
  ): ConversationActorInput['carried'] {
    const common = { ...state, seenMessageIds: seen, counters: { ...counters } };
    return ownMessages ? { ...common, version: CARRIED_STATE_VERSION, ownMessageIds: own } : common;
  }

  /** Only between turns: a running child would lose its parent's attention. */
  function readyToContinueAsNew(): boolean {
    return (
      turnsInFlight === 0 &&
      finishedTurns.length === 0 &&
      effects === 0 &&
      conversationStateOf(conversation.value) !== 'delivering'
    );
  }

  function freshState() {
    const [freshConversation] = initialTransition(conversationMachine, {
      resumeAfterIdleMs: settings.resumeAfterIdleMs,
    });
    const [freshSession] = initialTransition(sessionMachine, { accountId, conversationId });
    return {
      conversation: { value: freshConversation.value, context: freshConversation.context },
      session: { value: freshSession.value, context: freshSession.context },
    };
  }
}
