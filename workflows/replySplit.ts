/**
 * Long replies cut into several messages (`agents[].splitRepliesAtChars`): channels cap a
 * message (WhatsApp 4,096 characters, SMS far less) and long walls of text read badly. Cuts
 * fall on whitespace only, preferring a paragraph break, then a sentence end, then any space,
 * and never inside a Markdown link or image (`[text](url)`). A part is longer than the limit
 * only when one word or link alone is. Lengths are in UTF-16 code units, as Chatwoot counts
 * them. Pure: bundled into workflow code.
 */

/** Whitespace a message may be cut at (not the no-break spaces, which ask not to be). */
const BREAKS = /[^\S\u00a0\u2007\u202f]+/g;
/** `[text](target)` and `![alt](src)`, text without newlines or nested brackets. */
const MARKDOWN_LINK = /!?\[[^\]\n]*\]\([^)\n]*\)/g;
/** A sentence ends before the break: `.`, `!`, `?`, `…`, maybe closed by a quote or bracket. */
const SENTENCE_END = /[.!?…。！？]["'”’)\]]*$/;

interface Cut {
  /** The part before ends here. */
  start: number;
  /** The next part starts here. */
  end: number;
  /** 3 paragraph break, 2 sentence end or line break, 1 any other space. */
  rank: number;
}

/**
 * The parts of `text`: the text itself when it fits or `limit` is unset; else trimmed parts,
 * none empty, that give back the text but for the whitespace at each cut.
 */
export function splitReply(text: string, limit: number | undefined): string[] {
  if (limit === undefined || limit <= 0 || text.length <= limit) return [text];
  const trimmed = text.trim();
  if (!trimmed) return [text];
  const cuts = cutsOf(trimmed);
  const parts: string[] = [];
  let start = 0;
  let next = 0; // index of the first cut after `start`
  while (trimmed.length - start > limit) {
    while (next < cuts.length && (cuts[next] as Cut).start <= start) next += 1;
    const cut = bestCut(cuts, next, start, limit);
    if (!cut) break;
    parts.push(trimmed.slice(start, cut.start));
    start = cut.end;
  }
  parts.push(trimmed.slice(start));
  return parts;
}

/**
 * The cut to take for a part starting at `start`: the best rank within the limit, preferring
 * cuts past the first quarter (a paragraph break near the start would leave a tiny part), the
 * last one of that rank; none within the limit (one word or link longer than it): the first after.
 */
function bestCut(cuts: Cut[], from: number, start: number, limit: number): Cut | undefined {
  let best: Cut | undefined;
  let bestLate: Cut | undefined;
  const quarter = start + limit / 4;
  let index = from;
  for (; index < cuts.length; index += 1) {
    const cut = cuts[index] as Cut;
    if (cut.start - start > limit) break;
    if (!best || cut.rank >= best.rank) best = cut;
    if (cut.start >= quarter && (!bestLate || cut.rank >= bestLate.rank)) bestLate = cut;
  }
  return bestLate ?? best ?? cuts[index];
}

/** Every whitespace run outside a Markdown link, ranked. */
function cutsOf(text: string): Cut[] {
  const links: Array<[number, number]> = [];
  for (const match of text.matchAll(MARKDOWN_LINK)) {
    links.push([match.index, match.index + match[0].length]);
  }
  const cuts: Cut[] = [];
  let link = 0; // both lists are in text order: one sweep
  for (const match of text.matchAll(BREAKS)) {
    const start = match.index;
    while (link < links.length && (links[link] as [number, number])[1] <= start) link += 1;
    const around = links[link];
    if (around && around[0] < start) continue;
    const space = match[0];
    const newlines = space.split('\n').length - 1;
    const rank =
      newlines >= 2
        ? 3
        : newlines === 1 || SENTENCE_END.test(text.slice(Math.max(0, start - 8), start))
          ? 2
          : 1;
    cuts.push({ start, end: start + space.length, rank });
  }
  return cuts;
}
