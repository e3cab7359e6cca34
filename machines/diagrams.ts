import { agentTokenMachine } from './agentToken.js';
import { connectionMachine } from './connection.js';
import { conversationMachine } from './conversation.js';
import { toMermaid } from './diagram.js';
import { sessionMachine } from './session.js';

/** The machines drawn in the README, by the marker name around their diagram. */
export const README_DIAGRAMS = {
  conversation: conversationMachine,
  session: sessionMachine,
  connection: connectionMachine,
  agentToken: agentTokenMachine,
};

/** The README text between `<!-- diagram:{name} -->` and `<!-- /diagram:{name} -->`. */
export function diagramBlock(name: keyof typeof README_DIAGRAMS): string {
  return ['```mermaid', toMermaid(README_DIAGRAMS[name]), '```'].join('\n');
}

/** The README with every marked diagram redrawn from its machine. */
export function redrawDiagrams(readme: string): string {
  let text = readme;
  for (const name of Object.keys(README_DIAGRAMS) as Array<keyof typeof README_DIAGRAMS>) {
    const open = `<!-- diagram:${name} -->`;
    const close = `<!-- /diagram:${name} -->`;
    const start = text.indexOf(open);
    const end = text.indexOf(close);
    if (start < 0 || end < start) throw new Error(`README has no ${open} … ${close} block`);
    text = `${text.slice(0, start + open.length)}\n\n${diagramBlock(name)}\n\n${text.slice(end)}`;
  }
  return text;
}
