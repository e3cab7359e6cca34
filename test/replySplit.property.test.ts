import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitReply } from '../workflows/replySplit.js';

const LINK = /!?\[[^\]\n]*\]\([^)\n]*\)/g;
const BREAK = /[^\S\u00a0\u2007\u202f]/;

/** The parts are the text's pieces in order, with only whitespace between and around them. */
function rebuilds(text: string, parts: string[]): boolean {
  let at = 0;
  for (const part of parts) {
    while (at < text.length && BREAK.test(text[at] as string)) at += 1;
    if (!text.startsWith(part, at)) return false;
    at += part.length;
  }
  return /^\s*$/.test(text.slice(at));
}

/** The longest run that cannot be cut: a word, or a link with whatever touches it. */
function longestUnbreakable(text: string): number {
  const masked = text.replace(LINK, (link) => link.replace(/\s/g, 'x'));
  return Math.max(0, ...masked.split(BREAK).map((word) => word.length));
}

const word = fc.stringMatching(/^[a-zA-Zé0-9]{1,12}$/);
const link = fc
  .tuple(fc.array(word, { minLength: 1, maxLength: 4 }), word)
  .map(([label, path]) => `[${label.join(' ')}](https://example.com/${path})`);
const separator = fc.constantFrom(' ', ' ', ' ', '. ', '! ', '\n', '\n\n', ', ', '  ', '\u00a0');
const token = fc.oneof({ weight: 6, arbitrary: word }, { weight: 1, arbitrary: link });
const reply = fc
  .array(fc.tuple(token, separator), { minLength: 1, maxLength: 120 })
  .map((pairs) => pairs.map(([t, s]) => t + s).join(''));

describe('splitReply', () => {
  it('keeps a reply that fits, or any reply with no limit, as it is', () => {
    expect(splitReply('  short  ', 100)).toEqual(['  short  ']);
    expect(splitReply('x'.repeat(500), undefined)).toEqual(['x'.repeat(500)]);
  });

  it('prefers a paragraph break, then a sentence end, then a space', () => {
    const para = `${'a '.repeat(30)}end.\n\n${'b '.repeat(10)}more. ${'c '.repeat(10)}`;
    expect(splitReply(para, 90)[0]).toBe(`${'a '.repeat(30)}end.`);
    const sentence = `${'a '.repeat(30)}end. ${'b '.repeat(10)}c`;
    expect(splitReply(sentence, 80)[0]).toBe(`${'a '.repeat(30)}end.`);
  });

  it('never cuts a Markdown link, even one longer than the limit', () => {
    const text = `See [our very long documentation page title](https://example.com/docs) for more.`;
    const parts = splitReply(text, 20);
    expect(parts).toContain('[our very long documentation page title](https://example.com/docs)');
  });

  it('parts rebuild the text, stay within the limit unless one word or link is longer, cut no link', () => {
    fc.assert(
      fc.property(reply, fc.integer({ min: 5, max: 200 }), (text, limit) => {
        const parts = splitReply(text, limit);
        if (text.length <= limit) {
          expect(parts).toEqual([text]);
          return;
        }
        expect(rebuilds(text, parts)).toBe(true);
        for (const part of parts) {
          expect(part.length).toBeGreaterThan(0);
          expect(part).toBe(part.trim());
          // Over the limit only when the part is one word or link that could not be cut.
          if (part.length > limit) expect(longestUnbreakable(part)).toBe(part.length);
        }
        // Every link of the text is whole in one part.
        const links = text.match(LINK) ?? [];
        const linksInParts = parts.flatMap((part) => part.match(LINK) ?? []);
        expect(linksInParts).toEqual(links);
      }),
      { numRuns: 500 },
    );
  });
});
