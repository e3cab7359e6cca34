import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const demoEntry = fileURLToPath(new URL('../scripts/demo.ts', import.meta.url));
const ANY_FREE_PORT = [
  '--temporal-port',
  '--ui-port',
  '--api-port',
  '--chatwoot-port',
  '--agent-port',
].flatMap((flag) => [flag, '0']);

describe('npm run demo', () => {
  it('starts everything, prints the replies posted to Chatwoot with Temporal UI links, and exits', async () => {
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', demoEntry, '--exit', ...ANY_FREE_PORT],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
      child.on('error', reject);
      child.on('close', (exitCode) => resolve({ code: exitCode, stdout: out, stderr: err }));
    });

    expect(stderr).toBe('');
    expect(code).toBe(0);
    // One reply from the echo agent per message, three from the multi-reply agent, in order.
    expect(stdout).toContain('posted:   echo: Hi, where is my order #1234?');
    expect(stdout).toContain('posted:   echo: Do you ship to Canada?');
    expect(stdout).toMatch(
      /posted: {3}reply 1\/3: Can you explain your pricing plans\?\n {2}posted: {3}reply 2\/3: .*\n {2}posted: {3}reply 3\/3: /,
    );
    expect(stdout).toContain(
      'posted:   Hi Jane, your order #1234 has shipped and arrives on Friday.',
    );
    // Buttons, then the customer's choice back to the agent as its own turn.
    expect(stdout).toContain('posted:   Which colour would you like? [input_select: Blue | Red]');
    expect(stdout).toContain('posted:   you chose: Selected: Blue');
    expect(stdout).not.toMatch(/: (failed|handed_off)/);
    const links = stdout.match(/http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/\S+/g);
    // A reply with a file (inline base64), posted with Chatwoot's multipart create.
    expect(stdout).toMatch(
      /posted: {3}Here is your receipt\.\n {2}file: {5}receipt\.txt \(text\/plain, \d+ bytes\)/,
    );
    // A label set by the agent's action.
    expect(stdout).toMatch(/action: {3}add labels premium: done\n {2}labels: {3}premium/);
    expect(links).toHaveLength(8);
    expect(links?.at(-1)).toMatch(/\/workflows\/proactive%3A1%3Ademo-\d+$/);
  }, 120_000);
});
