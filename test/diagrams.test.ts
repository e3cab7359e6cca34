import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { README_DIAGRAMS, diagramBlock, redrawDiagrams } from '../machines/diagrams.js';

describe('README state diagrams', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

  it.each(Object.keys(README_DIAGRAMS) as Array<keyof typeof README_DIAGRAMS>)(
    'the %s diagram is drawn from the machine as it is now (npm run diagrams)',
    (name) => {
      expect(readme).toContain(diagramBlock(name));
    },
  );

  it('draws every state of the conversation machine, nested where the machine nests them', () => {
    const block = diagramBlock('conversation');
    for (const state of [
      'active_idle',
      'active_collecting',
      'active_delivering',
      'paused',
      'closed',
    ]) {
      expect(block).toContain(state);
    }
    expect(block).toMatch(
      /state active \{[^}]*active_idle --> active_collecting: always \[burstWaiting\]/,
    );
  });

  it('refuses a README without the markers', () => {
    expect(() => redrawDiagrams('no diagrams here')).toThrow(/diagram:conversation/);
  });
});
