import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeSourceId, MARKER_ATTRIBUTE } from '../chatwoot/sourceId.js';
import { searchAttributes } from '../workflows/searchAttributes.js';
import { deliveryStateQuery } from '../workflows/shared.js';
import { startStack, type Stack } from './helpers/stack.js';

describe('message delivery (real Temporal, real sockets, fake Chatwoot)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: { echo: 'echo', multi: 'multi?count=3&delayMs=30' },
      routes: { 7: 'echo', 8: 'multi' },
    });
  });
  afterAll(() => stack?.stop());

  it('posts the agent reply into the conversation, with typing on then off', async () => {
    const { response, json, payload } = await stack.sendMessage({
      conversationId: 101,
      content: 'Where is my order?',
    });
    expect(response.statusCode).toBe(200);
    expect(json.result).toBe('accepted');
    const workflowId = json.workflowId as string;
    expect(workflowId).toBe(`message:${stack.accountId}:101:${payload.id as number}`);

    const report = await stack.result(workflowId);
    expect(report.outcome).toBe('delivered');
    const messages = stack.chatwoot.messages(stack.accountId, 101);
    expect(messages.map((m) => m.content)).toEqual(['echo: Where is my order?']);
    expect(messages[0]).toMatchObject({
      message_type: 'outgoing',
      private: false,
      source_id: null,
      content_attributes: { [MARKER_ATTRIBUTE]: bridgeSourceId(workflowId, 0) },
    });
    expect(stack.chatwoot.typing(stack.accountId, 101)).toEqual(['on', 'off']);
    expect(stack.chatwoot.violations).toEqual([]);
  });

  it('is findable in Temporal by conversation, agent and status, with a readable summary', async () => {
    const { json } = await stack.sendMessage({
      conversationId: 103,
      content: 'Find me in the UI please',
    });
    const workflowId = json.workflowId as string;
    await stack.result(workflowId);
    const handle = await stack.workflow(workflowId);
    const description = await handle.describe();
    expect(await description.staticSummary()).toBe(
      'conversation 103 → echo: "Find me in the UI please"',
    );
    // A delivered message records no status (one action less): completed, with none set.
    expect(description.typedSearchAttributes.get(searchAttributes.deliveryStatus)).toBeUndefined();
    expect(description.status.name).toBe('COMPLETED');
    expect(description.typedSearchAttributes.get(searchAttributes.inboxId)).toBe('7');

    // Visibility is eventually consistent: poll the query an operator would type.
    const query = `ChatwootConversationId = "103" AND AgentId = "echo" AND ExecutionStatus = "Completed" AND DeliveryStatus IS NULL`;
    const found: string[] = [];
    for (let tries = 0; tries < 50 && found.length === 0; tries += 1) {
      for await (const execution of stack.temporal.workflow.list({ query }))
        found.push(execution.workflowId);
      if (found.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(found).toContain(workflowId);
    expect(await handle.query(deliveryStateQuery)).toMatchObject({
      status: 'delivered',
      repliesPosted: 1,
    });
  });

  it('streams several replies in order, each posted once', async () => {
    const { json } = await stack.sendMessage({ conversationId: 102, inboxId: 8, content: 'hi' });
    const report = await stack.result(json.workflowId as string);
    expect(report.outcome).toBe('delivered');
    expect(report.replies.map((r) => r.status)).toEqual(['posted', 'posted', 'posted']);
    expect(stack.chatwoot.messages(stack.accountId, 102).map((m) => m.content)).toEqual([
      'reply 1/3: hi',
      'reply 2/3: hi',
      'reply 3/3: hi',
    ]);
    expect(stack.chatwoot.violations).toEqual([]);
  });
});

describe('cancelling a delivery', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      agents: { silent: 'silent' },
      routes: { 7: 'silent' },
      agentTimeouts: { replyTimeoutMs: 30_000, totalTimeoutMs: 60_000 },
    });
  });
  afterAll(() => stack?.stop());

  it('closes the agent socket and turns typing off', async () => {
    const { json } = await stack.sendMessage({ conversationId: 111, content: 'never answered' });
    const handle = await stack.workflow(json.workflowId as string);
    await stack.chatwoot.waitFor(() => stack.agentServer.openConnections === 1, {
      description: 'agent connected',
    });
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow(/cancel/i);
    expect(stack.agentServer.openConnections).toBe(0);
    expect(stack.chatwoot.typing(stack.accountId, 111)).toEqual(['on', 'off']);
    expect(stack.chatwoot.messages(stack.accountId, 111)).toEqual([]);
  });
});
