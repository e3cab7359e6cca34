/**
 * Chatwoot's interactive messages, as an agent asks for them in its reply metadata
 * (`content_type` + `content_attributes`, see README "Rich replies"). Checked here, before the
 * post, against what Chatwoot's `ContentAttributeValidator` refuses (`items` a non-empty list of
 * objects with only the keys each type allows; cards need actions) and what its widget needs to
 * render the message and send an answer back (a select option without a value, a form field
 * without a name, a card button without its link, cannot be answered). Pure: bundled into
 * workflow code.
 */

export const RICH_CONTENT_TYPES = ['input_select', 'cards', 'form', 'article'] as const;
export type RichContentType = (typeof RICH_CONTENT_TYPES)[number];

export interface RichContent {
  contentType: RichContentType;
  contentAttributes: Record<string, unknown>;
}

/** `none`: a plain text reply; `invalid`: the agent asked for one Chatwoot would refuse or break. */
export type RichContentCheck =
  { kind: 'none' } | { kind: 'valid'; rich: RichContent } | { kind: 'invalid'; error: string };

/** Keys Chatwoot allows in each item (app/models/concerns/content_attribute_validator.rb). */
const ITEM_KEYS: Record<RichContentType, readonly string[]> = {
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
/** Field types the web widget's form renders. */
const FORM_FIELD_TYPES = ['text', 'text_area', 'email', 'select'];
/** More than a customer can read on a phone; also keeps one reply's signal small. */
const MAX_ITEMS = 50;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isText = (value: unknown): value is string =>
  typeof value === 'string' && value.trim().length > 0;

/** Reads `content_type` / `content_attributes` from a reply's metadata; never throws. */
export function richContentOf(metadata: Record<string, unknown>): RichContentCheck {
  const type = metadata.content_type;
  if (type === undefined || type === null || type === 'text') return { kind: 'none' };
  if (!RICH_CONTENT_TYPES.includes(type as RichContentType)) {
    return {
      kind: 'invalid',
      error: `content_type ${JSON.stringify(type)} is not one of ${RICH_CONTENT_TYPES.join(', ')}`,
    };
  }
  const contentType = type as RichContentType;
  const attributes = metadata.content_attributes;
  if (!isObject(attributes)) {
    return {
      kind: 'invalid',
      error: `content_attributes: an object is required for ${contentType}`,
    };
  }
  const error = itemsProblem(contentType, attributes.items);
  if (error) return { kind: 'invalid', error: `${contentType}: ${error}` };
  return { kind: 'valid', rich: { contentType, contentAttributes: attributes } };
}

function itemsProblem(type: RichContentType, items: unknown): string | undefined {
  if (!Array.isArray(items) || items.length === 0) {
    return 'content_attributes.items: a non-empty list is required';
  }
  if (items.length > MAX_ITEMS) return `content_attributes.items: at most ${MAX_ITEMS} items`;
  const names = new Set<string>();
  for (const [index, item] of items.entries()) {
    const where = `content_attributes.items[${index}]`;
    if (!isObject(item)) return `${where}: an object is required`;
    const unknown = Object.keys(item).filter((key) => !ITEM_KEYS[type].includes(key));
    if (unknown.length > 0) {
      return `${where}: ${unknown.join(', ')} not allowed (allowed: ${ITEM_KEYS[type].join(', ')})`;
    }
    const problem = ITEM_CHECKS[type](item, names);
    if (problem) return `${where}.${problem}`;
  }
  return undefined;
}

const ITEM_CHECKS: Record<RichContentType, (item: Json, names: Set<string>) => string | undefined> =
  {
    input_select: (item) => {
      if (!isText(item.title)) return 'title: a non-empty string is required';
      if (!isText(item.value)) return 'value: a non-empty string is required';
      return undefined;
    },
    cards: (item) => {
      if (!isText(item.title)) return 'title: a non-empty string is required';
      for (const key of ['description', 'media_url'] as const) {
        if (item[key] !== undefined && typeof item[key] !== 'string') return `${key}: a string`;
      }
      if (!Array.isArray(item.actions) || item.actions.length === 0) {
        return 'actions: a non-empty list is required';
      }
      for (const [index, action] of item.actions.entries()) {
        const problem = cardActionProblem(action);
        if (problem) return `actions[${index}]${problem}`;
      }
      return undefined;
    },
    form: (item, names) => {
      if (!isText(item.name)) return 'name: a non-empty string is required';
      if (names.has(item.name)) return `name: "${item.name}" is used twice`;
      names.add(item.name);
      if (!FORM_FIELD_TYPES.includes(item.type as string)) {
        return `type: one of ${FORM_FIELD_TYPES.join(', ')} is required`;
      }
      if (item.label !== undefined && typeof item.label !== 'string') return 'label: a string';
      if (item.type === 'select') {
        const options = item.options;
        if (!Array.isArray(options) || options.length === 0) {
          return 'options: a non-empty list of {label, value} is required for a select';
        }
        const bad = options.findIndex((option) => !isObject(option) || !isText(option.value));
        if (bad !== -1) return `options[${bad}].value: a non-empty string is required`;
      }
      return undefined;
    },
    article: (item) => {
      if (!isText(item.title)) return 'title: a non-empty string is required';
      if (!isText(item.link)) return 'link: a non-empty string (URL) is required';
      return undefined;
    },
  };

function cardActionProblem(action: unknown): string | undefined {
  if (!isObject(action)) return ': an object is required';
  const unknown = Object.keys(action).filter((key) => !CARD_ACTION_KEYS.includes(key));
  if (unknown.length > 0) {
    return `: ${unknown.join(', ')} not allowed (allowed: ${CARD_ACTION_KEYS.join(', ')})`;
  }
  if (!isText(action.text)) return '.text: a non-empty string is required';
  if (action.type === 'link') return isText(action.uri) ? undefined : '.uri: required for a link';
  if (action.type === 'postback') {
    return isText(action.payload) ? undefined : '.payload: required for a postback';
  }
  return '.type: "link" or "postback" is required';
}
