#!/usr/bin/env node
// The `chatwoot-bridge` command. The project runs its TypeScript directly (no build step), so
// this shim loads tsx and then the CLI itself.
import { register } from 'tsx/esm/api';

register();
await import('../cli/chatwoot-bridge.ts');
