import type { FastifyInstance } from 'fastify';
import type { PullTurn } from '../../workflows/pullShared.js';

/**
 * A pull agent as tests play it: it talks to the bridge's real HTTP app (in-process, through
 * `inject`) with its bearer key, as an agent would over the network.
 */
export function pullAgent(app: FastifyInstance, agentId: string, apiKey: string) {
  const auth = (key: string | null) => (key === null ? {} : { authorization: `Bearer ${key}` });
  return {
    /** `GET …/inbox`; `query` is sent as given (so tests can send malformed values). */
    async poll(query: Record<string, string | number> = {}, key: string | null = apiKey) {
      const search = new URLSearchParams(
        Object.entries(query).map(([name, value]): [string, string] => [name, String(value)]),
      );
      const response = await app.inject({
        method: 'GET',
        url: `/api/v1/agents/${agentId}/inbox${search.size ? `?${search.toString()}` : ''}`,
        headers: auth(key),
      });
      const json = response.json<{ messages?: PullTurn[] } & Record<string, unknown>>();
      return { status: response.statusCode, json, messages: json.messages ?? [] };
    },
    /** `POST …/outbox` with any body. */
    async post(body: unknown, key: string | null = apiKey) {
      const response = await app.inject({
        method: 'POST',
        url: `/api/v1/agents/${agentId}/outbox`,
        headers: { 'content-type': 'application/json', ...auth(key) },
        payload: JSON.stringify(body),
      });
      return { status: response.statusCode, json: response.json<Record<string, unknown>>() };
    },
    reply(
      turn: PullTurn,
      content: string,
      extra: { final?: boolean; sequence?: number; metadata?: Record<string, unknown> } = {},
    ) {
      return this.post({ message_id: turn.message_id, content, ...extra });
    },
    /** Posts until the bridge answers other than 503 (what a well-behaved agent does). */
    async postUntilAnswered(body: unknown, tries = 20) {
      for (let attempt = 1; ; attempt += 1) {
        const answer = await this.post(body);
        if (answer.status !== 503 || attempt >= tries) return answer;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
    /** Polls (long) until at least one turn comes, e.g. across a worker restart. */
    async pollUntilTurn(waitMs = 2_000, tries = 20): Promise<PullTurn[]> {
      for (let attempt = 1; ; attempt += 1) {
        const { status, messages } = await this.poll({ wait: waitMs });
        if (status === 200 && messages.length > 0) return messages;
        if (attempt >= tries) throw new Error(`no turn after ${tries} polls (last ${status})`);
      }
    },
  };
}

export type PullAgent = ReturnType<typeof pullAgent>;
