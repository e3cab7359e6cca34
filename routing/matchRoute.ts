import type { RouteConfig } from '../config/schema.js';
import {
  inboxIdOf,
  isContactSender,
  type MessageCreatedWebhook,
} from '../chatwoot/webhookSchema.js';

/** What routing may look at in a customer message. */
export interface RoutingFacts {
  inboxId: number;
  /** The conversation's labels. */
  labels: readonly string[];
  /** The team the conversation is assigned to, if any. */
  teamId?: number;
  conversationAttributes: Readonly<Record<string, unknown>>;
  contactAttributes: Readonly<Record<string, unknown>>;
}

/**
 * The route for a message: the first non-default route whose matchers all hold, else the
 * default route (wherever it stands), else undefined (the message is not for an agent).
 */
export function matchRoute<Route extends RouteConfig>(
  routes: readonly Route[],
  facts: RoutingFacts,
): Route | undefined {
  return (
    routes.find((route) => !route.default && routeMatches(route, facts)) ??
    routes.find((route) => route.default === true)
  );
}

/** True when every matcher the route has holds for these facts (a route without matchers never matches). */
export function routeMatches(route: RouteConfig, facts: RoutingFacts): boolean {
  if (!hasMatcher(route)) return false;
  if (route.inboxId !== undefined && route.inboxId !== facts.inboxId) return false;
  if (route.teamId !== undefined && route.teamId !== facts.teamId) return false;
  if (route.labels !== undefined) {
    const present = new Set(facts.labels.map(normalizeLabel));
    if (!route.labels.some((label) => present.has(normalizeLabel(label)))) return false;
  }
  if (route.customAttribute !== undefined) {
    const { name, value } = route.customAttribute;
    const expected = String(value);
    const holds = [facts.conversationAttributes, facts.contactAttributes].some(
      (attributes) =>
        Object.hasOwn(attributes, name) && attributeText(attributes[name]) === expected,
    );
    if (!holds) return false;
  }
  return true;
}

export function hasMatcher(route: RouteConfig): boolean {
  return (
    route.inboxId !== undefined ||
    route.labels !== undefined ||
    route.teamId !== undefined ||
    route.customAttribute !== undefined
  );
}

/** Chatwoot stores label titles in lower case; compare the same way whatever the config says. */
export function normalizeLabel(label: string): string {
  return label.trim().toLowerCase();
}

/** Custom attributes are compared as text (`42` equals `"42"`); objects and arrays never match. */
function attributeText(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : undefined;
}

/**
 * The routing facts of a validated `message_created` webhook. The team comes from
 * `conversation.meta.team` (or a `team_id`, which some payloads carry); contact attributes from
 * the sender when it is the contact, else from `conversation.meta.sender`.
 */
export function routingFacts(message: MessageCreatedWebhook): RoutingFacts {
  const { conversation } = message;
  const teamId = conversation.meta?.team?.id ?? conversation.team_id ?? undefined;
  const contactAttributes =
    (isContactSender(message.sender) ? message.sender?.custom_attributes : undefined) ??
    conversation.meta?.sender?.custom_attributes;
  return {
    inboxId: inboxIdOf(message),
    labels: conversation.labels ?? [],
    ...(teamId !== undefined ? { teamId } : {}),
    conversationAttributes: conversation.custom_attributes ?? {},
    contactAttributes: contactAttributes ?? {},
  };
}
