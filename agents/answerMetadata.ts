import type { AgentTurn } from './types.js';

/**
 * What every protocol adds to a turn's metadata when the turn is the customer's answer to the
 * bot's buttons or form (chatwoot/submittedAnswer.ts): the structured values beside the
 * readable text. One place, so the four protocols say it alike.
 */
export function answerMetadata(turn: AgentTurn): Record<string, unknown> {
  const answer = turn.submittedValues;
  if (!answer) return {};
  return {
    submitted_values: {
      message_id: answer.messageId,
      content_type: answer.contentType,
      values: answer.values,
    },
  };
}
