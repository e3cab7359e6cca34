import type { AnyStateMachine, AnyStateNode } from 'xstate';

/**
 * A Mermaid `stateDiagram-v2` drawn from a machine's own definition, so the README's diagrams
 * cannot drift from the code (`npm run diagrams` rewrites them; a test checks they match).
 * Mermaid cannot draw an arrow between states of different composite states, so such an arrow
 * starts from the composite state that holds its source, labelled with the inner state.
 */
export function toMermaid(machine: AnyStateMachine): string {
  const edgesIn = new Map<AnyStateNode, Set<string>>();
  const name = (node: AnyStateNode) => node.path.join('_');
  const children = (node: AnyStateNode) => Object.values(node.states) as AnyStateNode[];

  const addEdge = (source: AnyStateNode, target: AnyStateNode, text: string): void => {
    const sources = source === machine.root ? children(machine.root) : [source];
    for (const from of sources) {
      if (from.type === 'final') continue;
      const ancestor = commonAncestor(from, target);
      const liftedFrom = liftTo(from, ancestor);
      const liftedTo = liftTo(target, ancestor);
      const inner = liftedFrom === from ? '' : ` (in ${from.key})`;
      const line = `${name(liftedFrom)} --> ${name(liftedTo)}: ${text}${inner}`;
      const set = edgesIn.get(ancestor) ?? new Set<string>();
      set.add(line);
      edgesIn.set(ancestor, set);
    }
  };
  const visit = (node: AnyStateNode): void => {
    for (const [event, transitions] of node.transitions) {
      for (const transition of transitions) {
        for (const target of (transition.target ?? []) as AnyStateNode[]) {
          addEdge(node, target, label(event, transition.guard));
        }
      }
    }
    for (const transition of node.always ?? []) {
      for (const target of (transition.target ?? []) as AnyStateNode[]) {
        addEdge(node, target, label('always', transition.guard));
      }
    }
    children(node).forEach(visit);
  };
  visit(machine.root);

  const lines = ['stateDiagram-v2'];
  const draw = (node: AnyStateNode, indent: string): void => {
    const initial = node.initial?.target?.[0] as AnyStateNode | undefined;
    if (initial) lines.push(`${indent}[*] --> ${name(initial)}`);
    for (const child of children(node)) {
      if (children(child).length > 0) {
        lines.push(`${indent}state ${name(child)} {`);
        draw(child, `${indent}  `);
        lines.push(`${indent}}`);
      }
      if (child.type === 'final') lines.push(`${indent}${name(child)} --> [*]`);
    }
    for (const line of [...(edgesIn.get(node) ?? [])].sort()) lines.push(`${indent}${line}`);
  };
  draw(machine.root, '  ');
  return lines.join('\n');
}

/** The nearest state that contains both (a self-transition lives in its source's parent). */
function commonAncestor(a: AnyStateNode, b: AnyStateNode): AnyStateNode {
  const ancestors = new Set<AnyStateNode>();
  for (let node = a.parent; node; node = node.parent) ancestors.add(node);
  for (let node = b.parent; node; node = node.parent) if (ancestors.has(node)) return node;
  return a.machine.root;
}

/** `node`, or its ancestor that is a direct child of `ancestor`. */
function liftTo(node: AnyStateNode, ancestor: AnyStateNode): AnyStateNode {
  let current = node;
  while (current.parent && current.parent !== ancestor) current = current.parent;
  return current;
}

function label(event: string, guard: unknown): string {
  const readable = event.startsWith('xstate.after.')
    ? `after ${event.split('.')[2] ?? 'delay'}`
    : event;
  const guardName = guardText(guard);
  return guardName ? `${readable} [${guardName}]` : readable;
}

function guardText(guard: unknown): string | undefined {
  if (typeof guard === 'string') return guard;
  if (guard && typeof guard === 'object' && 'type' in guard) return String(guard.type);
  if (typeof guard === 'function') return guard.name || 'guard';
  return undefined;
}
