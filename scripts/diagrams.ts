import { readFileSync, writeFileSync } from 'node:fs';
import { redrawDiagrams } from '../machines/diagrams.js';

// `npm run diagrams`: redraw the README's state diagrams from the machines' definitions.
const path = new URL('../README.md', import.meta.url);
writeFileSync(path, redrawDiagrams(readFileSync(path, 'utf8')));
console.log('README diagrams redrawn');
