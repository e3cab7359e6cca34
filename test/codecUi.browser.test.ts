import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BRIDGE_SEARCH_ATTRIBUTES,
  LOW_LATENCY_DYNAMIC_CONFIG,
  freePort,
  startDevServer,
  type DevServer,
} from '../workers/devServer.js';
import { startStack, type Stack } from './helpers/stack.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT = new URL('../test-output/', import.meta.url);
const customerText = 'Codec check: my parcel 5521 never arrived';

describe('the Temporal UI reads encrypted payloads through the codec endpoint (headless Chromium)', () => {
  let server: DevServer;
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    // The UI must know the codec endpoint at start, and the endpoint the UI's origin: pick both ports first.
    const [apiPort, uiPort] = [await freePort(), await freePort()];
    server = await startDevServer({
      uiPort,
      uiCodecEndpoint: `http://127.0.0.1:${apiPort}/codec`,
      searchAttributes: BRIDGE_SEARCH_ATTRIBUTES,
      dynamicConfig: LOW_LATENCY_DYNAMIC_CONFIG,
    });
    [stack, browser] = await Promise.all([
      startStack({
        temporalAddress: server.address,
        encryption: { keys: [{ id: 'ui', key: randomBytes(32).toString('base64') }] },
        // The UI sends no key of its own: the endpoint is open to this loopback UI only.
        api: { codec: { allowWithoutKey: true, corsOrigins: [`http://127.0.0.1:${uiPort}`] } },
      }),
      chromium.launch({ executablePath: CHROMIUM }),
    ]);
    await stack.app.listen({ port: apiPort, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await server?.stop();
  });

  it('shows the decoded customer text on the delivery page', async () => {
    const { json } = await stack.sendMessage({ content: customerText });
    const workflowId = json.workflowId as string;
    expect((await stack.result(workflowId)).outcome).toBe('delivered');

    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    try {
      await page.goto(
        `${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`,
      );
      await expect
        .poll(() => page.locator('body').innerText(), { timeout: 60_000 })
        .toContain('parcel 5521');
      await page.screenshot({ path: new URL('temporal-ui-codec.png', OUTPUT).pathname });
    } finally {
      await page.close();
    }
  }, 120_000);
});
