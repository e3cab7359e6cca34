/**
 * Replies with Chatwoot interactive content, as the mock agents send them (`/rich?kind=…` for
 * bridge-v1, `/unified/rich?kind=…`): the reply metadata carries `content_type` and
 * `content_attributes` (README "Rich replies"). A turn that is the customer's answer
 * (`metadata.submitted_values`) is answered in plain text with what was chosen.
 */
export interface MockRichReply {
  content: string;
  metadata: Record<string, unknown>;
}

const LONG_TEXT = [
  'Thanks for asking about our plans. Here is everything you need to know before choosing.',
  'The basic plan covers one inbox and two agents. It includes [the help centre](https://example.com/help) and email support.',
  'The business plan adds automations, reports and an SLA. Most teams of five to twenty people pick it.',
  'The enterprise plan is for large teams! It comes with audit logs, SSO and a named contact.',
  'Questions? Reply here and a colleague will follow up within one working day.',
].join('\n\n');

const KINDS: Record<string, MockRichReply> = {
  select: {
    content: 'Which colour would you like?',
    metadata: {
      content_type: 'input_select',
      content_attributes: {
        items: [
          { title: 'Blue', value: 'blue' },
          { title: 'Red', value: 'red' },
        ],
      },
    },
  },
  form: {
    content: 'Tell us how to reach you',
    metadata: {
      content_type: 'form',
      content_attributes: {
        items: [
          { name: 'name', type: 'text', label: 'Name', placeholder: 'Your name' },
          { name: 'email', type: 'email', label: 'Email', placeholder: 'you@example.com' },
        ],
      },
    },
  },
  cards: {
    content: 'Our plans',
    metadata: {
      content_type: 'cards',
      content_attributes: {
        items: [
          {
            title: 'Business',
            description: 'Automations and reports',
            media_url: 'https://example.com/business.png',
            actions: [
              { type: 'link', text: 'Details', uri: 'https://example.com/business' },
              { type: 'postback', text: 'Choose', payload: 'plan_business' },
            ],
          },
        ],
      },
    },
  },
  article: {
    content: 'This may help',
    metadata: {
      content_type: 'article',
      content_attributes: {
        items: [{ title: 'Reset your password', link: 'https://example.com/kb/reset' }],
      },
    },
  },
  /** Options without values: Chatwoot's widget could not send an answer back. */
  invalid: {
    content: 'Pick one: blue or red',
    metadata: {
      content_type: 'input_select',
      content_attributes: { items: [{ title: 'Blue' }, { title: 'Red' }] },
    },
  },
  /** Invalid, and no text to fall back on. */
  'invalid-empty': {
    content: '',
    metadata: { content_type: 'cards', content_attributes: { items: [{ title: 'No actions' }] } },
  },
  long: { content: LONG_TEXT, metadata: {} },
  'long-select': {
    content: LONG_TEXT,
    metadata: {
      content_type: 'input_select',
      content_attributes: { items: [{ title: 'Basic', value: 'basic' }] },
    },
  },
};

/** The reply for `kind` (default `select`); a turn answering one gets `you chose: …`. */
export function mockRichReply(
  kind: string | null,
  request: { content: string; metadata: Record<string, unknown> },
): MockRichReply {
  if (request.metadata.submitted_values) {
    return { content: `you chose: ${request.content}`, metadata: {} };
  }
  return KINDS[kind ?? 'select'] ?? { content: `no rich reply "${kind}"`, metadata: {} };
}
