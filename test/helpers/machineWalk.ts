import {
  getMicrosteps,
  initialTransition,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type StateValue,
} from 'xstate';
import { getStateNodes, toDirectedGraph, type DirectedGraphNode } from '@xstate/graph';

/** The ids of every state node a state value is in, e.g. `{active: 'idle'}` → active, active.idle. */
export function activeIds(machineId: string, value: StateValue): string[] {
  if (typeof value === 'string') return [`${machineId}.${value}`];
  return Object.entries(value).flatMap(([key, child]) => [
    `${machineId}.${key}`,
    ...(child === undefined ? [] : activeIds(`${machineId}.${key}`, child)),
  ]);
}

export interface Step {
  from: string[];
  to: string[];
  /** The event's type, or `always` for an eventless transition taken after it. */
  event: string;
}

/**
 * Breadth-first walk of a machine through the pure `transition` functions (as the workflow
 * drives it): every reachable abstract state, and every microstep taken on the way.
 * `abstract` decides when two snapshots count as the same state (contexts grow without end).
 */
export function walk<M extends AnyStateMachine>(
  machine: M,
  input: unknown,
  events: (snapshot: ReturnType<typeof initialTransition<M>>[0]) => Array<{ type: string }>,
  abstract: (snapshot: ReturnType<typeof initialTransition<M>>[0]) => string,
  maxDepth = 8,
) {
  const [initial] = initialTransition(machine, input as never);
  const seen = new Map([[abstract(initial), initial]]);
  const steps: Step[] = [];
  let frontier = [initial];
  for (let depth = 0; depth < maxDepth && frontier.length > 0; depth += 1) {
    const next: typeof frontier = [];
    for (const snapshot of frontier) {
      if ((snapshot as AnyMachineSnapshot).status !== 'active') continue;
      for (const event of events(snapshot)) {
        let previous = snapshot;
        getMicrosteps(machine, snapshot, event as never).forEach(([micro], index) => {
          steps.push({
            from: [
              machine.id,
              ...activeIds(machine.id, (previous as AnyMachineSnapshot).value as StateValue),
            ],
            to: [
              machine.id,
              ...activeIds(machine.id, (micro as AnyMachineSnapshot).value as StateValue),
            ],
            event: index === 0 ? event.type : 'always',
          });
          previous = micro;
        });
        const key = abstract(previous);
        if (!seen.has(key)) {
          seen.set(key, previous);
          next.push(previous);
        }
      }
    }
    frontier = next;
  }
  return { states: [...seen.values()], steps };
}

/** Every transition the machine declares: evented ones from @xstate/graph, plus `always` ones. */
export function declaredEdges(machine: AnyStateMachine) {
  const edges: Array<{ source: string; target: string; event: string }> = [];
  const collect = (node: DirectedGraphNode): void => {
    for (const edge of node.edges) {
      edges.push({ source: edge.source.id, target: edge.target.id, event: edge.label.text });
    }
    node.children.forEach(collect);
  };
  collect(toDirectedGraph(machine));
  for (const node of getStateNodes(machine.root)) {
    for (const transition of node.always ?? []) {
      for (const target of transition.target ?? []) {
        edges.push({ source: node.id, target: target.id, event: 'always' });
      }
    }
  }
  return edges;
}

/** The declared edges no step took. */
export function untakenEdges(machine: AnyStateMachine, steps: Step[]) {
  return declaredEdges(machine).filter(
    (edge) =>
      !steps.some(
        (step) =>
          step.event === edge.event &&
          step.from.includes(edge.source) &&
          step.to.includes(edge.target),
      ),
  );
}

/** Every leaf state node's id. */
export function leafIds(machine: AnyStateMachine): string[] {
  return getStateNodes(machine.root)
    .filter((node) => node.type === 'atomic' || node.type === 'final')
    .map((node) => node.id);
}
