import type { HumanRequestConfig } from '../config/schema.js';

/**
 * Does a customer message ask for a person? Pure, so the webhook's classifier decides it from
 * the payload and the configuration alone.
 *
 * The rule (README "Customers asking for a person"): the text and the phrases are compared as
 * words, ignoring case, accents and punctuation. A message asks for a person when it has at most
 * `maxWords` words and ends with one of the phrases, optionally followed by trailing words such
 * as "please" or "now". "I want to talk to a human" and "Agent, please!" ask; "my human
 * resources department" and "the agent told me it ships tomorrow" do not: a phrase followed by
 * more of the sentence is part of another request, which is the agent's to answer.
 */

export interface HumanRequestMatch {
  /** The phrase as configured. */
  phrase: string;
  /** The language of the acknowledgement (a key of `acknowledgement`), when one is posted. */
  language: string;
  acknowledgement?: string;
}

/** Words of a text: letters and digits only, lower case, accents removed. */
export function wordsOf(text: string): string[] {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word.length > 0);
}

/** True when `words` end with `phrase`, allowing any of `trailing` after it. */
export function endsWithPhrase(
  words: readonly string[],
  phrase: readonly string[],
  trailing: ReadonlySet<string>,
): boolean {
  if (phrase.length === 0) return false;
  let end = words.length;
  for (;;) {
    if (
      end >= phrase.length &&
      phrase.every((word, i) => words[end - phrase.length + i] === word)
    ) {
      return true;
    }
    // Trailing words may be stripped one by one ("human now please").
    const last = words[end - 1];
    if (last === undefined || !trailing.has(last)) return false;
    end -= 1;
  }
}

/**
 * The request a message makes, or undefined. Every configured language's phrases count (a German
 * browser may type English). The acknowledgement is in the conversation's language (the
 * contact's or the browser's) when there is one in it, else in the language of the phrase that
 * matched, else in `defaultLanguage`.
 */
export function detectHumanRequest(
  content: string,
  settings: HumanRequestConfig,
  conversationLanguage?: string,
): HumanRequestMatch | undefined {
  if (!settings.enabled) return undefined;
  const words = wordsOf(content);
  if (words.length === 0 || words.length > settings.maxWords) return undefined;
  const trailing = new Set(Object.values(settings.trailingWords).flat().flatMap(wordsOf));
  const matches: Array<{ language: string; phrase: string }> = [];
  for (const [language, phrases] of Object.entries(settings.phrases)) {
    for (const phrase of phrases) {
      if (endsWithPhrase(words, wordsOf(phrase), trailing)) matches.push({ language, phrase });
    }
  }
  const match =
    matches.find((candidate) => candidate.language === conversationLanguage) ?? matches[0];
  if (!match) return undefined;
  const language = [conversationLanguage, match.language, settings.defaultLanguage].find(
    (candidate): candidate is string =>
      candidate !== undefined && Object.hasOwn(settings.acknowledgement, candidate),
  );
  return {
    phrase: match.phrase,
    language: language ?? match.language,
    ...(language !== undefined ? { acknowledgement: settings.acknowledgement[language] } : {}),
  };
}

/**
 * The conversation's language from a `message_created` payload, as a primary language subtag:
 * the contact's `language` or `locale` custom attribute (set by the team or an integration), else
 * the conversation's `additional_attributes.conversation_language`, else the web widget's
 * `browser_language` (Chatwoot records the browser's Accept-Language there). Undefined if none.
 */
export function conversationLanguageOf(message: {
  sender?: unknown;
  conversation: { additional_attributes?: unknown; meta?: unknown };
}): string | undefined {
  const sender = record(message.sender);
  const contact = record(record(message.conversation.meta).sender);
  const attributes = record(message.conversation.additional_attributes);
  const candidates = [
    record(sender.custom_attributes).language,
    record(sender.custom_attributes).locale,
    record(contact.custom_attributes).language,
    record(contact.custom_attributes).locale,
    attributes.conversation_language,
    attributes.browser_language,
  ];
  for (const candidate of candidates) {
    const primary =
      typeof candidate === 'string' ? /^[A-Za-z]{2,3}(?=$|[-_])/.exec(candidate) : null;
    if (primary) return primary[0].toLowerCase();
  }
  return undefined;
}

/**
 * Whether a `conversation_updated` change list adds `label` (Chatwoot lists `label_list` with
 * its previous and current value, as a list or a comma-separated text). Case-insensitive, as
 * Chatwoot stores labels in lower case.
 */
export function labelAdded(
  change: { before: unknown; after: unknown } | undefined,
  label: string,
): boolean {
  if (!change) return false;
  const wanted = label.trim().toLowerCase();
  const has = (value: unknown) => labelsOf(value).includes(wanted);
  return has(change.after) && !has(change.before);
}

function labelsOf(value: unknown): string[] {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [];
  return list
    .filter((label): label is string => typeof label === 'string')
    .map((label) => label.trim().toLowerCase());
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
