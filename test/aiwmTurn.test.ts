import { describe, expect, it } from 'vitest';
import type { NewMessage } from '../agents/aiwm/protocol.js';
import { AiwmTurn, type Correlation } from '../agents/aiwm/turn.js';

/** Which messages an AIWM socket hears are this turn's answer (agents/aiwm/turn.ts). */
describe('AIWM turn correlation', () => {
  const turnOf = (correlation: Correlation = 'ordering', conversationId = 'c1') =>
    new AiwmTurn({
      correlation,
      turnId: 'turn-1',
      ownIds: new Set(['agent']),
      conversationId: () => conversationId,
    });
  let id = 0;
  const message = (overrides: Partial<NewMessage> = {}): NewMessage => ({
    _id: `m${(id += 1)}`,
    conversationId: 'c1',
    role: 'assistant',
    content: 'hello',
    participantId: 'assistant',
    ...overrides,
  });
  const reasonOf = (verdict: ReturnType<AiwmTurn['classify']>) =>
    typeof verdict === 'string' ? verdict : verdict.reason;

  it("ordering: before our message is acknowledged an answer is an earlier turn's", () => {
    const turn = turnOf();
    expect(reasonOf(turn.classify(message()))).toBe('before_turn');
    turn.sent('question');
    expect(reasonOf(turn.classify(message()))).toBe('before_turn');
    turn.acknowledged('mine');
    expect(turn.classify(message())).toBe('ours');
    turn.end();
    expect(reasonOf(turn.classify(message()))).toBe('after_turn');
  });

  it('our own message echoed back begins the turn when the acknowledgement is late', () => {
    const turn = turnOf();
    turn.sent('question');
    expect(turn.classify(message({ role: 'user', participantId: 'agent', content: 'other' }))).toBe(
      'ignore',
    );
    expect(reasonOf(turn.classify(message()))).toBe('before_turn');
    turn.classify(message({ role: 'user', participantId: 'agent', content: 'question' }));
    expect(turn.classify(message())).toBe('ours');
  });

  it('a turn id echoed for another turn is never ours, in any mode', () => {
    for (const correlation of ['ordering', 'turnId', 'conversation'] as const) {
      const turn = turnOf(correlation);
      turn.sent('q');
      turn.acknowledged('mine');
      expect(reasonOf(turn.classify(message({ metadata: { turnId: 'turn-0' } })))).toBe(
        'other_turn',
      );
      expect(turn.classify(message({ metadata: { turnId: 'turn-1' } }))).toBe('ours');
    }
  });

  it('turnId: a message naming no turn is dropped', () => {
    const turn = turnOf('turnId');
    turn.sent('q');
    turn.acknowledged('mine');
    expect(reasonOf(turn.classify(message()))).toBe('no_turn_id');
  });

  it("conversation: only messages of this turn's own AIWM conversation", () => {
    const turn = turnOf('conversation', 'room-a');
    turn.sent('q');
    turn.acknowledged('mine');
    expect(turn.classify(message({ conversationId: 'room-a' }))).toBe('ours');
    expect(reasonOf(turn.classify(message({ conversationId: 'room-b' })))).toBe(
      'other_conversation',
    );
    expect(turn.inConversation(undefined)).toBe(false);
  });

  it('ignores other users and our own messages', () => {
    const turn = turnOf();
    turn.sent('q');
    turn.acknowledged('mine');
    expect(turn.classify(message({ role: 'user', participantId: 'someone' }))).toBe('ignore');
    expect(turn.classify(message({ role: 'system' }))).toBe('ignore');
    expect(turn.classify(message({ participantId: 'agent' }))).toBe('ignore');
  });
});
