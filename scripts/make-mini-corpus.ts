/**
 * The mini corpus generator without the CLI around it (scripts/setup.sh runs it with no options):
 * src/cli/commands/make-mini-corpus.ts does the work; `--help` lists the options.
 */
import { makeMiniCorpusCommand } from '../src/cli/commands/make-mini-corpus.js';

process.exitCode = await makeMiniCorpusCommand(process.argv.slice(2));
