import type { RouteConfig } from '../config/schema.js';
import { hasMatcher, normalizeLabel } from './matchRoute.js';

export interface RouteIssue {
  /** Inside `routes`: `[index]` or `[index, field]`. */
  path: (string | number)[];
  message: string;
}

const MATCHERS = 'inboxId, labels, teamId, customAttribute';

/**
 * Route lists that cannot do what their author meant: a route without matchers, a default
 * with matchers, two defaults, a default before other routes, or a route an earlier one
 * always wins over (it could never match). Agent ids are checked with the agents.
 */
export function routeIssues(routes: readonly RouteConfig[]): RouteIssue[] {
  const issues: RouteIssue[] = [];
  let defaultIndex: number | undefined;
  routes.forEach((route, index) => {
    if (route.default === true) {
      if (hasMatcher(route)) {
        issues.push({
          path: [index, 'default'],
          message: `a default route matches every message: remove its matchers (${MATCHERS}) or drop "default"`,
        });
      }
      if (defaultIndex !== undefined) {
        issues.push({
          path: [index, 'default'],
          message: `only one default route is allowed (routes.${defaultIndex} is one already)`,
        });
      } else if (index !== routes.length - 1) {
        issues.push({
          path: [index, 'default'],
          message: 'the default route must be the last one (it is tried after all others)',
        });
      }
      defaultIndex ??= index;
      return;
    }
    if (!hasMatcher(route)) {
      issues.push({
        path: [index],
        message: `give at least one matcher (${MATCHERS}) or mark the route "default": true`,
      });
      return;
    }
    const earlier = routes
      .slice(0, index)
      .findIndex((candidate) => candidate.default !== true && covers(candidate, route));
    if (earlier === -1) return;
    const shadow = routes[earlier] as RouteConfig;
    if (isInboxOnly(shadow) && isInboxOnly(route)) {
      issues.push({
        path: [index, 'inboxId'],
        message: `inbox ${route.inboxId} is routed twice`,
      });
    } else {
      issues.push({
        path: [index],
        message: `can never match: routes.${earlier} comes first and matches every message this route would`,
      });
    }
  });
  return issues;
}

/** True when `first` matches every message `later` matches (each of its matchers is as loose or looser). */
function covers(first: RouteConfig, later: RouteConfig): boolean {
  if (first.inboxId !== undefined && first.inboxId !== later.inboxId) return false;
  if (first.teamId !== undefined && first.teamId !== later.teamId) return false;
  if (first.labels !== undefined) {
    if (later.labels === undefined) return false;
    const allowed = new Set(first.labels.map(normalizeLabel));
    if (!later.labels.every((label) => allowed.has(normalizeLabel(label)))) return false;
  }
  if (first.customAttribute !== undefined) {
    const other = later.customAttribute;
    if (
      other === undefined ||
      other.name !== first.customAttribute.name ||
      String(other.value) !== String(first.customAttribute.value)
    ) {
      return false;
    }
  }
  return true;
}

function isInboxOnly(route: RouteConfig): boolean {
  return (
    route.inboxId !== undefined &&
    route.labels === undefined &&
    route.teamId === undefined &&
    route.customAttribute === undefined
  );
}
