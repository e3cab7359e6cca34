// The sandbox as one process on fixed ports: the fake Chatwoot and the mock agents, for
// docker-compose.test.yml and manual runs (`npx tsx sandbox/serve.ts`).
import { pathToFileURL } from 'node:url';
import { FakeChatwoot } from './fakeChatwoot.js';
import { startMockAgent } from './mockAgents.js';

export const SANDBOX_DEFAULTS = {
  FAKE_CHATWOOT_PORT: '3000',
  FAKE_CHATWOOT_TOKEN: 'test-token',
  MOCK_AGENT_PORT: '9001',
  SANDBOX_HOST: '0.0.0.0',
} as const;

type SandboxEnv = Partial<Record<keyof typeof SANDBOX_DEFAULTS, string>>;

export async function startSandbox(env: SandboxEnv = process.env) {
  const setting = (name: keyof typeof SANDBOX_DEFAULTS) => env[name] || SANDBOX_DEFAULTS[name];
  const host = setting('SANDBOX_HOST');
  const chatwoot = await FakeChatwoot.start({
    host,
    port: Number(setting('FAKE_CHATWOOT_PORT')),
    apiAccessToken: setting('FAKE_CHATWOOT_TOKEN'),
  });
  const agents = await startMockAgent({ host, port: Number(setting('MOCK_AGENT_PORT')) });
  return {
    chatwoot,
    agents,
    async close() {
      await agents.close();
      await chatwoot.close();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sandbox = await startSandbox();
  const log = (fields: Record<string, unknown>) => console.log(JSON.stringify(fields));
  log({ msg: 'sandbox ready', chatwoot: sandbox.chatwoot.url, agents: sandbox.agents.url('echo') });
  // `docker compose logs sandbox` then shows what the bridge posted, and any request that
  // Chatwoot's OpenAPI document would refuse.
  sandbox.chatwoot.on('message', (message) =>
    log({
      msg: 'message stored',
      conversationId: message.conversation_id,
      type: message.message_type,
      private: message.private,
      content: message.content,
      violations: sandbox.chatwoot.violations.length,
    }),
  );
  const stop = () => void sandbox.close().then(() => process.exit(0));
  process.once('SIGINT', stop).once('SIGTERM', stop);
}
