#!/bin/sh
// 2>/dev/null; [ -n "$GLIBC_TUNABLES$MALLOC_ARENA_MAX" ] || [ "$ASR_TRAINER_MALLOC" = default ] || export MALLOC_ARENA_MAX=1; exec node "$0" "$@"
// The package's bin: runs the TypeScript CLI through tsx (a runtime dependency), so a fresh clone works
// after `npm ci` without a compile step.
//
// Started as a program, the two lines above are shell: `train` and `worker` run the trainer in this process,
// and glibc reads MALLOC_ARENA_MAX only at start, so the shell sets the one malloc arena the server's trainer
// children get (src/child-process/fork-entry.ts: without it the addon's threads page-fault their memory in
// again) and replaces itself with Node (same pid, so signals from a terminal, SLURM or torchrun reach Node
// directly). It is addonProcessEnv's rule in sh (src/native/allocator.ts; test/cli/usage.test.ts holds the
// two to the same answers): a user's own allocator tuning is left alone. To Node, the second line is a comment.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
