import { messageCreatedPayload, signWebhook } from '../../sandbox/chatwootWebhooks.js';
import type { FakeChatwoot, StoredMessage } from '../../sandbox/fakeChatwoot.js';

/**
 * Sends a stored customer message's `message_created` webhook the way Chatwoot's agent-bot job
 * does (`AgentBots::WebhookJob`): a 5 s timeout, 429 and 500 retried up to three attempts, anything
 * else (another status, a refused or reset connection, a timeout) final. On a final failure the
 * fake Chatwoot does what Chatwoot does: marks the message failed and opens the conversation.
 */
export async function sendLikeAgentBot(
  chatwoot: FakeChatwoot,
  webhookUrl: string,
  message: StoredMessage,
  options: { secret: string; retryDelayMs?: number },
): Promise<'delivered' | 'failed'> {
  const body = JSON.stringify(
    messageCreatedPayload({
      accountId: message.account_id,
      conversationId: message.conversation_id,
      inboxId: message.inbox_id,
      messageId: message.id,
      content: message.content,
      status: 'pending',
    }),
  );
  for (let attempt = 1; attempt <= 3; attempt++) {
    let status: number | undefined;
    try {
      const response = await fetch(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signWebhook(body, options.secret) },
        body,
        signal: AbortSignal.timeout(5_000),
      });
      status = response.status;
    } catch {
      break; // refused, reset or timed out: Chatwoot does not retry these
    }
    if (status >= 200 && status < 300) return 'delivered';
    if (status !== 429 && status !== 500) break;
    await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs ?? 3_000));
  }
  chatwoot.failWebhook(message.account_id, message.id);
  return 'failed';
}
