#!/usr/bin/env node
// The package's `flagsync` command: loads tsx's ESM hooks, then the TypeScript CLI (works from any folder).
import { register } from 'tsx/esm/api';

register();
await import('./flagsync.ts');
