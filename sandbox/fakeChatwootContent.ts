/**
 * What real Chatwoot does with interactive messages, for the fake (sandbox/fakeChatwoot.ts):
 * - on create, `ContentAttributeValidator` (app/models/concerns/content_attribute_validator.rb)
 *   refuses `input_select`, `cards`, `form` and `article` messages whose `items` are missing,
 *   not all objects, or carry keys the type does not allow, and cards without actions: the API
 *   answers 422 with the record's error messages. Written apart from the bridge's own stricter
 *   check (workflows/richContent.ts) on purpose, so a gap in that check shows here.
 * - on the widget's answer (`PATCH /api/v1/widget/conversations/messages/{id}` with
 *   `submitted_values`), the value is stored in the message's `content_attributes` beside what
 *   was there (`store :content_attributes, accessors: [..., :submitted_values]`), and the
 *   update is sent to webhooks as `message_updated` with the whole message.
 */

const ALLOWED_ITEM_KEYS: Record<string, readonly string[]> = {
  input_select: ['title', 'value'],
  cards: ['title', 'description', 'media_url', 'actions'],
  form: [
    'type',
    'placeholder',
    'label',
    'name',
    'options',
    'default',
    'required',
    'pattern',
    'title',
    'pattern_error',
  ],
  article: ['title', 'description', 'link'],
};
const CARD_ACTION_KEYS = ['text', 'type', 'payload', 'uri'];

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Chatwoot's error messages for the message's content attributes; empty when it saves. */
export function contentAttributeErrors(contentType: string, attributes: Json): string[] {
  const allowed = ALLOWED_ITEM_KEYS[contentType];
  if (!allowed) return [];
  const items = attributes.items;
  const errors: string[] = [];
  if (!Array.isArray(items) || items.length === 0) {
    return ["Content attributes Items can't be blank"];
  }
  if (!items.every(isObject)) return ['Content attributes Items should be a hash'];
  const invalid = items.flatMap((item) => Object.keys(item)).filter((k) => !allowed.includes(k));
  if (invalid.length > 0)
    errors.push(`Content attributes Invalid item keys: ${invalid.join(', ')}`);
  if (contentType === 'cards') {
    if (items.some((item) => !Array.isArray(item.actions) || item.actions.length === 0)) {
      errors.push('Content attributes Missing item actions');
    } else {
      const keys = items.flatMap((item) =>
        (item.actions as unknown[]).flatMap((action) =>
          isObject(action) ? Object.keys(action) : [],
        ),
      );
      const bad = keys.filter((key) => !CARD_ACTION_KEYS.includes(key));
      if (bad.length > 0) errors.push(`Content attributes Invalid action keys: ${bad.join(', ')}`);
    }
  }
  return errors;
}

/**
 * What the widget sends as `submitted_values` (app/javascript/widget): the chosen option of
 * an `input_select` (`[{title, value}]`), every field of a `form` (`[{name, title?, value}]`),
 * a CSAT rating (`{csat_survey_response: {rating, feedback_message}}`).
 */
export type SubmittedValues =
  | Array<{ name?: string; title?: string; value: unknown }>
  | { csat_survey_response: { rating: number; feedback_message?: string } };
