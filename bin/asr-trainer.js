#!/usr/bin/env node
// The package's bin: runs the TypeScript CLI through tsx (a runtime dependency), so a fresh clone works
// after `npm ci` without a compile step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
