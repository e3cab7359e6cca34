import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classify } from '../chatwoot/events.js';
import {
  conversationLanguageOf,
  detectHumanRequest,
  labelAdded,
  wordsOf,
} from '../chatwoot/humanRequest.js';
import { bridgeConfigSchema, humanRequestSchema } from '../config/schema.js';
import {
  conversationEventPayload,
  messageCreatedPayload,
  type MessageOptions,
} from '../sandbox/chatwootWebhooks.js';
import { classifierConfig } from './helpers/eventsConfig.js';

/** The English defaults, and a German route as the README shows it. */
const english = humanRequestSchema.parse({});
const bilingual = humanRequestSchema.parse({
  phrases: {
    en: ['human', 'agent', 'talk to someone'],
    de: ['mensch', 'mitarbeiter', 'mit einem menschen sprechen'],
  },
  trailingWords: { en: ['please', 'now'], de: ['bitte', 'jetzt'] },
  acknowledgement: { en: 'Handing you over.', de: 'Ich verbinde Sie mit unserem Team.' },
});

const asks = (text: string, settings = english, language?: string) =>
  detectHumanRequest(text, settings, language);

describe('a customer asking for a person: the rule', () => {
  it.each([
    ['I want to talk to a human', 'human'],
    ['human', 'human'],
    ['Human, please!', 'human'],
    ['AGENT now please', 'agent'],
    ['Can I talk to someone?', 'talk to someone'],
    ['I would like to speak to a real person', 'real person'],
    ['operator.', 'operator'],
  ])('"%s" asks (phrase "%s")', (text, phrase) => {
    expect(asks(text)?.phrase).toBe(phrase);
  });

  it.each([
    'my human resources department',
    'The agent told me my order ships tomorrow',
    'Can a human check my invoice from last week',
    'humans',
    'travel agents',
    'inhuman',
    'where is my parcel',
    '',
    '!!!',
    // Long messages are questions for the agent (which may still hand off itself).
    'I ordered two pairs of shoes last week and only one arrived, can I talk to someone',
  ])('"%s" does not ask', (text) => {
    expect(asks(text)).toBeUndefined();
  });

  it('ignores accents and case, in any configured language', () => {
    expect(asks('Ich möchte mit einem MENSCHEN sprechen, bitte', bilingual)).toMatchObject({
      phrase: 'mit einem menschen sprechen',
      language: 'de',
      acknowledgement: 'Ich verbinde Sie mit unserem Team.',
    });
    expect(asks('Mitarbeiter jetzt', bilingual)?.language).toBe('de');
    expect(asks('HÚMÁN', english)?.phrase).toBe('human');
  });

  it('acknowledges in the conversation language, else the phrase language, else the default', () => {
    expect(asks('human please', bilingual, 'de')?.acknowledgement).toBe(
      'Ich verbinde Sie mit unserem Team.',
    );
    expect(asks('human please', bilingual)?.language).toBe('en');
    // No acknowledgement in French: the phrase's language.
    expect(asks('human', bilingual, 'fr')?.language).toBe('en');
    const germanOnlyAck = humanRequestSchema.parse({
      phrases: { en: ['human'], de: ['mensch'] },
      acknowledgement: { de: 'Einen Moment.' },
      defaultLanguage: 'de',
    });
    expect(asks('human', germanOnlyAck)).toMatchObject({
      language: 'de',
      acknowledgement: 'Einen Moment.',
    });
    const silent = humanRequestSchema.parse({ acknowledgement: {} });
    expect(asks('human', silent)).toEqual({ phrase: 'human', language: 'en' });
  });

  it('off when disabled', () => {
    expect(asks('human', humanRequestSchema.parse({ enabled: false }))).toBeUndefined();
  });
});

describe('a customer asking for a person: properties', () => {
  const phraseOf = fc.constantFrom(...english.phrases.en!);
  const trailingOf = fc.array(fc.constantFrom(...english.trailingWords.en!), { maxLength: 2 });
  /** Words that are never a phrase's last word or a trailing word. */
  const otherWord = fc.stringMatching(/^q[a-z]{2,8}$/);
  const punctuation = fc.constantFrom(' ', ', ', '! ', '? ', ' - ', '... ');
  const join = (words: string[], separators: string[]) =>
    words.map((word, i) => word + (separators[i] ?? ' ')).join('');
  const randomCase = (text: string, flips: boolean[]) =>
    [...text].map((c, i) => (flips[i % flips.length] ? c.toUpperCase() : c)).join('');
  const ACCENTS: Record<string, string> = { a: 'á', e: 'é', i: 'í', o: 'ó', u: 'ü', n: 'ñ' };
  const accented = (text: string) => [...text].map((c) => ACCENTS[c] ?? c).join('');

  it('a short message ending with a phrase (trailing words, any case, accents, punctuation) asks', () => {
    fc.assert(
      fc.property(
        fc.array(otherWord, { maxLength: 5 }),
        phraseOf,
        trailingOf,
        fc.array(punctuation, { minLength: 12, maxLength: 12 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }),
        fc.boolean(),
        (prefix, phrase, trailing, separators, flips, accents) => {
          const words = [...prefix, phrase, ...trailing];
          fc.pre(wordsOf(words.join(' ')).length <= english.maxWords);
          let text = randomCase(join(words, separators), flips);
          if (accents) text = accented(text);
          expect(asks(text)?.phrase).toBe(phrase);
        },
      ),
    );
  });

  it('a phrase followed by more of the sentence does not ask', () => {
    fc.assert(
      fc.property(
        fc.array(otherWord, { maxLength: 3 }),
        phraseOf,
        fc.array(otherWord, { minLength: 1, maxLength: 3 }),
        trailingOf,
        (prefix, phrase, rest, trailing) => {
          expect(asks([...prefix, phrase, ...rest, ...trailing].join(' '))).toBeUndefined();
        },
      ),
    );
  });

  it('a phrase word inside a longer word does not ask', () => {
    fc.assert(
      fc.property(
        phraseOf,
        fc.stringMatching(/^[a-z]{1,4}$/),
        fc.boolean(),
        (phrase, glued, before) => {
          const text = before ? `${glued}${phrase}` : `${phrase}${glued}`;
          fc.pre(!english.phrases.en!.some((p) => wordsOf(text).join(' ').endsWith(p)));
          expect(asks(text)).toBeUndefined();
        },
      ),
    );
  });

  it('more than maxWords words never asks, whatever they end with', () => {
    fc.assert(
      fc.property(
        fc.array(otherWord, { minLength: english.maxWords, maxLength: 20 }),
        phraseOf,
        (prefix, phrase) => {
          expect(asks([...prefix, phrase].join(' '))).toBeUndefined();
        },
      ),
    );
  });

  it('case and accents never change the decision', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        const plain = asks(text);
        expect(asks(text.toUpperCase())?.phrase).toBe(plain?.phrase);
        expect(asks(accented(text))?.phrase).toBe(plain?.phrase);
      }),
    );
  });
});

describe('the conversation language', () => {
  const message = (options: MessageOptions & { extra?: Record<string, unknown> } = {}) =>
    messageCreatedPayload({ conversationId: 42, inboxId: 7, ...options }) as never;

  it("reads the contact's attribute, then the conversation's language, then the browser's", () => {
    const base = messageCreatedPayload({ conversationId: 42, inboxId: 7 }) as {
      conversation: { additional_attributes: Record<string, unknown> };
    };
    expect(conversationLanguageOf(base as never)).toBeUndefined();
    base.conversation.additional_attributes.browser_language = 'de-DE';
    expect(conversationLanguageOf(base as never)).toBe('de');
    base.conversation.additional_attributes.conversation_language = 'fr';
    expect(conversationLanguageOf(base as never)).toBe('fr');
    expect(conversationLanguageOf(message({ contactAttributes: { language: 'PT_br' } }))).toBe(
      'pt',
    );
    expect(conversationLanguageOf(message({ contactAttributes: { locale: 42 } }))).toBeUndefined();
  });
});

describe('classify: a customer asking for a person', () => {
  const config = classifierConfig({
    routes: [
      {
        inboxId: 7,
        agentId: 'echo',
        humanRequest: {
          phrases: { en: ['human', 'agent'], de: ['mensch'] },
          acknowledgement: { en: 'One moment, a person will reply.', de: 'Einen Moment bitte.' },
          label: 'human',
        },
      },
      { inboxId: 8, agentId: 'merging' },
    ],
  });
  const message = (options: MessageOptions = {}) =>
    messageCreatedPayload({ conversationId: 42, messageId: 1001, inboxId: 7, ...options });

  it('the request is a customer message carrying the hand-over, with no delivery workflow', () => {
    const decision = classify(message({ content: 'I want to talk to a human' }), config);
    expect(decision).toMatchObject({
      kind: 'customer_turn',
      signal: {
        type: 'customer_message',
        message: { messageId: 1001 },
        humanRequest: {
          acknowledgement: 'One moment, a person will reply.',
          key: 'message-1001',
          reason: 'the customer asked for a person ("human")',
        },
      },
    });
    expect(decision).not.toHaveProperty('workflowId');
    expect(decision.kind === 'customer_turn' && decision.signal.humanRequest?.note).toMatch(
      /message 1001.*"human".*"echo"/,
    );
  });

  it('in the contact language', () => {
    const decision = classify(
      message({ content: 'Mensch!', contactAttributes: { language: 'de' } }),
      config,
    );
    expect(decision.kind === 'customer_turn' && decision.signal.humanRequest?.acknowledgement).toBe(
      'Einen Moment bitte.',
    );
  });

  it('other sentences, routes without the setting, and non-customers are what they were', () => {
    const other = classify(message({ content: 'my human resources department' }), config);
    expect(other).toMatchObject({ kind: 'customer_turn', workflowId: 'message:1:42:1001' });
    expect(other.kind === 'customer_turn' && other.signal.humanRequest).toBeUndefined();
    const unset = classify(message({ inboxId: 8, content: 'human' }), config);
    expect(unset.kind === 'customer_turn' && unset.signal.humanRequest).toBeUndefined();
    expect(classify(message({ content: 'human', private: true }), config)).toMatchObject({
      kind: 'ignore',
    });
    expect(classify(message({ content: null }), config)).toMatchObject({ kind: 'ignore' });
  });

  const labelled = (changes: Record<string, [unknown, unknown]>, inboxId = 7) =>
    classify(
      conversationEventPayload('conversation_updated', {
        accountId: 1,
        conversationId: 42,
        inboxId,
        changes,
      }),
      config,
    );

  it('a conversation_updated adding the label hands over (starting an actor), with no acknowledgement', () => {
    const decision = labelled({ label_list: [['billing'], ['billing', 'Human']] });
    expect(decision).toMatchObject({
      kind: 'notify',
      start: true,
      signal: {
        type: 'human_requested',
        route: { agentId: 'echo' },
        request: { reason: 'label "human" added' },
      },
    });
    expect(
      decision.kind === 'notify' && decision.signal.type === 'human_requested'
        ? decision.signal.request.acknowledgement
        : 'none',
    ).toBeUndefined();
    // Chatwoot may list the labels as text too.
    expect(labelled({ label_list: ['', 'human'] })).toMatchObject({ kind: 'notify' });
  });

  it('a label already there, removed, another label, or a route without the trigger: nothing new', () => {
    expect(labelled({ label_list: [['human'], ['human', 'vip']] })).toMatchObject({
      kind: 'ignore',
    });
    expect(labelled({ label_list: [['human'], []] })).toMatchObject({ kind: 'ignore' });
    expect(labelled({ label_list: [[], ['vip']] })).toMatchObject({ kind: 'ignore' });
    expect(labelled({ label_list: [[], ['human']] }, 8)).toMatchObject({ kind: 'ignore' });
  });

  it('the same change assigning a person is a takeover, not a hand-over', () => {
    expect(labelled({ label_list: [[], ['human']], assignee_id: [null, 3] })).toMatchObject({
      kind: 'notify',
      signal: { type: 'assignee_changed', assigneeId: 3 },
    });
  });

  it('labelAdded reads lists and text, case-insensitively', () => {
    expect(labelAdded({ before: null, after: ['HUMAN'] }, 'human')).toBe(true);
    expect(labelAdded({ before: 'vip, human', after: 'vip, human, x' }, 'human')).toBe(false);
    expect(labelAdded(undefined, 'human')).toBe(false);
  });
});

describe('configuration: routes[].humanRequest', () => {
  const parse = (humanRequest: unknown) =>
    bridgeConfigSchema.safeParse({
      chatwoot: { baseUrl: 'http://chatwoot.test', apiAccessToken: 'token' },
      agents: [{ id: 'echo', transport: 'ws', url: 'ws://agent.test' }],
      routes: [{ inboxId: 7, agentId: 'echo', humanRequest }],
    });
  const problem = (humanRequest: unknown) => {
    const result = parse(humanRequest);
    return result.success
      ? 'valid'
      : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
  };

  it('off unless set; {} gives the English defaults', () => {
    const config = classifierConfig();
    expect(config.routes[0]?.humanRequest).toBeUndefined();
    expect(humanRequestSchema.parse({})).toMatchObject({
      enabled: true,
      maxWords: 12,
      defaultLanguage: 'en',
      phrases: { en: expect.arrayContaining(['human', 'agent', 'talk to someone']) },
    });
  });

  it('names what to fix', () => {
    expect(problem({ phrases: { English: ['human'] } })).toMatch(
      /routes\.0\.humanRequest\.phrases\.English: .*two- or three-letter language code/,
    );
    expect(problem({ phrases: { en: [] } })).toMatch(/list at least one phrase/);
    expect(problem({ phrases: { en: ['?!'] } })).toMatch(/needs a letter or digit/);
    expect(problem({ acknowledgement: { de: 'Moment' } })).toMatch(
      /humanRequest\.acknowledgement\.en: add an acknowledgement in "en" \(defaultLanguage\), or set defaultLanguage to one of de/,
    );
    expect(problem({ label: '' })).toMatch(/name the label/);
    expect(problem({ acknowledgement: {} })).toBe('valid');
  });
});
