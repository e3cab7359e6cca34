import type { StrayMessage, StrayReason } from '../types.js';
import { turnIdOf, type NewMessage } from './protocol.js';

/**
 * Which of the messages an AIWM socket hears belong to this exchange's turn. Every socket of an
 * agent hears its whole AIWM conversation, and a real agent goes on answering after the turn
 * that asked has ended, so a message is this turn's only when what the protocol gives says so:
 *
 * - ordering: it came after our own `message:send` was acknowledged (`message:sent`, whose
 *   `messageId` names our message) or echoed back, and before the turn ended;
 * - turn id: an agent that echoes `metadata.turnId` names the turn it answers; a message naming
 *   another turn is never ours (with `correlation: 'turnId'` one naming none is not either);
 * - conversation: with a conversation of its own, a message from any other is not ours.
 *
 * What is not ours is a stray, dropped with a reason that the exchange logs and counts.
 */
export type Correlation = 'ordering' | 'turnId' | 'conversation';

/** Defined with the exchange hooks that report them (agents/types.ts). */
export type { StrayMessage, StrayReason };

export class AiwmTurn {
  private sentContent: string | undefined;
  private ackedId: string | undefined;
  private started = false;
  private ended = false;

  readonly turnId: string;

  constructor(
    private readonly options: {
      correlation: Correlation;
      /** Sent in `metadata.turnId` of our message; echoed by agents that support it. */
      turnId: string;
      /** Our own participant ids (the bridge speaks as the AIWM agent). */
      ownIds: ReadonlySet<string>;
      /** The AIWM conversation of this turn, once known. */
      conversationId: () => string | undefined;
    },
  ) {
    this.turnId = options.turnId;
  }

  /** Our `message:send` went out with this content. */
  sent(content: string): void {
    this.sentContent = content;
  }

  /** `message:sent` for our message: the turn has begun. */
  acknowledged(messageId: string | undefined): void {
    if (this.sentContent === undefined) return;
    this.ackedId = messageId;
    this.started = true;
  }

  /** The answer is over: whatever comes from now on is late. */
  end(): void {
    this.ended = true;
  }

  get inTurn(): boolean {
    return this.started && !this.ended;
  }

  isOwn(participantId: string | undefined): boolean {
    return participantId !== undefined && this.options.ownIds.has(participantId);
  }

  /** Whether a conversation id (of a typing or presence event) is this turn's. */
  inConversation(conversationId: string | undefined): boolean {
    const ours = this.options.conversationId();
    if (this.options.correlation === 'conversation') return conversationId === ours;
    return conversationId === undefined || ours === undefined || conversationId === ours;
  }

  /**
   * `ours` for a message of this turn's answer, a stray for an assistant or tool message that is
   * not, `ignore` for everything else (our own messages, other users).
   */
  classify(message: NewMessage): 'ours' | 'ignore' | StrayMessage {
    if (this.isOwn(message.participantId)) {
      // Our own message echoed back also begins the turn, should the acknowledgement be late.
      if (message.role === 'user' && this.isOurEcho(message)) this.started = true;
      return 'ignore';
    }
    if (message.role !== 'assistant' && message.role !== 'tool') return 'ignore';
    const stray = (reason: StrayReason): StrayMessage => ({
      reason,
      messageId: message._id,
      conversationId: message.conversationId,
    });
    if (!this.inConversation(message.conversationId)) return stray('other_conversation');
    const echoed = turnIdOf(message);
    if (echoed !== undefined && echoed !== this.turnId) return stray('other_turn');
    if (this.ended) return stray('after_turn');
    if (!this.started) return stray('before_turn');
    if (echoed === undefined && this.options.correlation === 'turnId') return stray('no_turn_id');
    return 'ours';
  }

  private isOurEcho(message: NewMessage): boolean {
    if (this.sentContent === undefined) return false;
    if (this.ackedId !== undefined) return message._id === this.ackedId;
    const echoed = turnIdOf(message);
    return echoed !== undefined ? echoed === this.turnId : message.content === this.sentContent;
  }
}
