import type { WsAgentConfig } from '../../config/schema.js';
import type { ConnectionEvent, ConnectionOutput } from '../../machines/connection.js';
import type { ExchangeHooks } from '../types.js';
import { invalidFrame, parseJson, runWsExchange } from '../ws/socket.js';
import { agentFrameSchema, isAgentError, isFinalResponse, type AgentRequest } from './protocol.js';

/** The `bridge-v1` protocol (seed 000) over the shared socket handling. */
export function runBridgeV1Exchange(
  agent: WsAgentConfig,
  request: AgentRequest,
  hooks: ExchangeHooks,
): Promise<ConnectionOutput> {
  return runWsExchange(agent, { request, decode: (text) => [decodeBridgeV1(text)] }, hooks);
}

/** One `bridge-v1` text frame as a machine event; never throws (see test/codecs.property.test.ts). */
export function decodeBridgeV1(text: string): ConnectionEvent {
  const json = parseJson(text);
  if (json === undefined) {
    return { type: 'PROTOCOL_ERROR', detail: 'agent sent a frame that is not JSON' };
  }
  const parsed = agentFrameSchema.safeParse(json);
  if (!parsed.success) return invalidFrame(parsed.error);
  const frame = parsed.data;
  if (isAgentError(frame)) {
    return {
      type: 'AGENT_ERROR',
      detail: `agent error ${frame.error.code}: ${frame.error.message}`,
      retryable: frame.error.retryable,
    };
  }
  return {
    type: 'REPLY',
    reply: { content: frame.content, final: isFinalResponse(frame), metadata: frame.metadata },
  };
}
