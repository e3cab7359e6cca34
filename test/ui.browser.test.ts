import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startStack, type Stack } from './helpers/stack.js';

/** Debian's Chromium (never a downloaded browser); CI runs on a machine that has it. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT = new URL('../test-output/', import.meta.url);

describe('tracing a message in the Temporal UI (headless Chromium)', () => {
  let stack: Stack;
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    [stack, browser] = await Promise.all([
      // Three replies: the exchange posts the first (plain text) itself and hands it over by
      // signal; the second has actions to run, so the workflow posts it and the one after it.
      startStack({
        agents: { support: 'actions?count=3&at=2&actions=[]' },
        routes: { 7: 'support' },
      }),
      chromium.launch({ executablePath: CHROMIUM }),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('finds the delivery by its conversation and shows its summary and reply posts', async () => {
    // Unique per run: the dev server keeps every earlier run's workflows for the suite.
    const conversationId = 700_000 + Math.floor(Math.random() * 200_000);
    const { json } = await stack.sendMessage({
      conversationId,
      // Markdown a customer typed: the UI must show it as text, never as a link or HTML.
      content: 'Order #1234 [track](http://evil.example/t) <b>now</b>',
    });
    const workflowId = json.workflowId as string;
    expect((await stack.result(workflowId)).outcome).toBe('delivered');
    const summary = `conversation ${conversationId} → support: "Order #1234 [track](http://evil.example/t) <b>now</b>"`;

    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    try {
      await openFromSearch(page, `ChatwootConversationId="${conversationId}"`, workflowId);

      // History: the timeline names each activity with its summary.
      await expect.poll(() => page.url()).toMatch(/\/history$/);
      await page.getByText('createMessage • post reply 2 from support').waitFor();
      await page.getByText('createMessage • post reply 3 from support').waitFor();
      // The reply the exchange posted: its signal, with the Chatwoot id in its input.
      await page.getByText('agentReply').first().waitFor();
      await page.getByText('agentExchange • agent support, attempt 1').waitFor();
      await page.screenshot({ path: new URL('temporal-ui-history.png', OUTPUT).pathname });

      // User Metadata: the workflow's summary and details, and every activity's summary.
      await page.getByRole('tab', { name: 'User Metadata' }).click();
      const text = () => page.locator('main').innerText();
      await expect.poll(text).toContain('Events with Metadata');
      const metadata = await text();
      // Summary and details are Markdown, rendered by the UI in frames of their own.
      await expect.poll(() => framesText(page)).toContain(summary);
      await expect
        .poll(() => framesText(page))
        .toMatch(
          new RegExp(
            `Chatwoot account ${stack.accountId} · inbox 7 · conversation ${conversationId} · message \\d+`,
          ),
        );
      await expect.poll(() => framesText(page)).toMatch(/Agent support/);
      // No HTML from the customer, and no link that hides its target (a bare URL is shown as is).
      const markup = await framesMarkup(page);
      expect(markup.tags).not.toContain('b');
      expect(markup.tags).not.toContain('img');
      for (const [text, href] of markup.links) expect(text).toBe(href);
      for (const activity of [
        'agent support, attempt 1',
        'post reply 2 from support',
        'post reply 3 from support',
      ]) {
        expect(metadata).toContain(activity);
      }
      await page.screenshot({ path: new URL('temporal-ui-delivery.png', OUTPUT).pathname });
    } finally {
      await page.close();
    }
  }, 120_000);
});

/**
 * Types nothing: the workflow list takes the visibility query in its URL, as an operator would
 * paste it. Visibility is eventually consistent, so reload until the workflow is listed.
 */
async function openFromSearch(page: Page, query: string, workflowId: string): Promise<void> {
  const listUrl = `${inject('temporalUiUrl')}/namespaces/default/workflows?query=${encodeURIComponent(query)}`;
  const link = page.getByRole('link', { name: workflowId, exact: true });
  for (let tries = 0; ; tries += 1) {
    await page.goto(listUrl);
    try {
      await link.waitFor({ timeout: 5_000 });
      break;
    } catch (error) {
      if (tries >= 10) throw error;
    }
  }
  // Exactly this delivery matches its conversation's query.
  await expect.poll(() => page.getByRole('link', { name: /^message:/ }).count()).toBe(1);
  await link.click();
}

/** The part of a DOM element the check reads (the project compiles without the DOM types). */
interface MarkupElement {
  tagName: string;
  textContent: string | null;
  getAttribute(name: string): string | null;
}

/** What the page's frames (the rendered Markdown) contain: elements by tag, links by text and target. */
async function framesMarkup(page: Page): Promise<{ tags: string[]; links: string[][] }> {
  const frames = markdownFrames(page);
  const found = await Promise.all(
    frames.map((frame) =>
      frame
        .locator('body *')
        .evaluateAll((elements: MarkupElement[]) =>
          elements.map((element) => [
            element.tagName.toLowerCase(),
            element.textContent ?? '',
            element.getAttribute('href') ?? '',
          ]),
        )
        .catch((): string[][] => []),
    ),
  );
  const elements = found.flat();
  return {
    tags: elements.map(([tag]) => tag!),
    links: elements.filter(([tag]) => tag === 'a').map(([, text, href]) => [text!, href!]),
  };
}

/**
 * The text of the page's frames, curly quotes (the UI typesets them) made straight. The UI
 * re-renders its Markdown frames while it refreshes, so a frame may detach while being read: it
 * counts as empty, and the caller polls again.
 */
async function framesText(page: Page): Promise<string> {
  const frames = markdownFrames(page);
  const texts = await Promise.all(
    frames.map((frame) =>
      frame
        .locator('body')
        .innerText({ timeout: 2_000 })
        .catch(() => ''),
    ),
  );
  return texts.join('\n').replace(/[“”]/g, '"');
}

/** The frames the UI renders Markdown in (summary, details), as they are now. */
function markdownFrames(page: Page) {
  return page.frames().filter((frame) => frame !== page.mainFrame() && !frame.isDetached());
}
