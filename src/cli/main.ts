/**
 * `asr-trainer`: serve the API and dashboard, train in-process (or as data-parallel workers), run one
 * worker of a data-parallel run, list and average checkpoints, evaluate one on named splits, transcribe WAV
 * files and generate the mini corpus. Commands load their modules lazily so `--help` never loads the addon.
 */

import { Command, Option } from 'commander';
import { EXIT_OK, reportError } from './exit.js';
import { autoOrPositiveInteger, beamWidth, nameList, positiveInteger } from './options.js';

function configOption(): Option {
  return new Option(
    '-c, --config <path>',
    'config file (default: $ASR_CONFIG, ./config.yaml, the package config.yaml)',
  );
}

export function buildProgram(): Command {
  const program = new Command('asr-trainer')
    .description('Conformer-CTC speech recognition training on LibTorch that never loses progress.')
    .version(process.env.npm_package_version ?? '0.1.0', '-V, --version')
    .showHelpAfterError('(see --help)')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  program
    .command('serve')
    .description('run the HTTP + WebSocket API and the dashboard')
    .addOption(configOption())
    .option('--host <host>', 'bind address (default: server.host)')
    .option('--port <port>', 'port, 0 for a free one (default: server.port)', (v) =>
      v === '0' ? 0 : positiveInteger(v),
    )
    .action(async (options) => (await import('./commands/serve.js')).serveCommand(options));

  program
    .command('train')
    .description('train in this process (no server): resumes from the latest checkpoint unless --no-resume')
    .addOption(configOption())
    .requiredOption('-m, --model <name>', 'model name from config.yaml `models`')
    .requiredOption('-d, --dataset <name>', 'dataset name from config.yaml `datasets`')
    .option('-e, --epochs <n>', 'TOTAL epochs (a run resumed at epoch 5 with 10 trains 6..10)', positiveInteger)
    .option('-b, --batch-size <n>', 'utterances per batch', positiveInteger)
    .option('--lightweight', 'limit the dataset to training.lightweight_samples utterances')
    .option('--limit-samples <n>', 'use at most this many training utterances', positiveInteger)
    .option('--resume', 'resume from the latest valid checkpoint (default: training.auto_resume)')
    .option('--no-resume', 'start from scratch even when checkpoints exist')
    .option('--checkpoint <name>', 'resume from this checkpoint (a name from `asr-trainer checkpoints`)')
    .option('-v, --verbose', 'also print debug log lines')
    .option(
      '--nproc-per-node <n>',
      'data-parallel worker processes on this machine, or auto (default: distributed.nproc_per_node)',
      autoOrPositiveInteger,
    )
    .addHelpText('after', '\nCtrl-C stops after the current step and saves a step checkpoint; a second Ctrl-C aborts.')
    .action(async (options) => {
      process.exitCode = await (await import('./commands/train.js')).trainCommand(options);
    });

  program
    .command('worker')
    .description(
      "one worker of a data-parallel run, placed by torchrun's environment (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT)",
    )
    .addOption(configOption())
    .option('-m, --model <name>', 'rank 0 only (it plans the run): model name from config.yaml `models`')
    .option('-d, --dataset <name>', 'rank 0 only: dataset name from config.yaml `datasets`')
    .option('-e, --epochs <n>', 'rank 0 only: TOTAL epochs', positiveInteger)
    .option(
      '-b, --batch-size <n>',
      'rank 0 only: utterances per GLOBAL batch (split across the ranks)',
      positiveInteger,
    )
    .option('--lightweight', 'rank 0 only: limit the dataset to training.lightweight_samples utterances')
    .option('--limit-samples <n>', 'rank 0 only: use at most this many training utterances', positiveInteger)
    .option('--resume', 'rank 0 only: resume from the latest valid checkpoint (default: training.auto_resume)')
    .option('--no-resume', 'rank 0 only: start from scratch')
    .option('--checkpoint <name>', 'rank 0 only: resume from this checkpoint')
    .option('-v, --verbose', 'also print debug log lines')
    .addHelpText(
      'after',
      '\nThe other ranks take the plan and the training settings from rank 0; their config gives paths and datasets.\n' +
        'Example (second machine): RANK=1 LOCAL_RANK=0 WORLD_SIZE=2 LOCAL_WORLD_SIZE=1 MASTER_ADDR=10.0.0.1 MASTER_PORT=29500 asr-trainer worker --config config.yaml',
    )
    .action(async (options) => {
      process.exitCode = await (await import('./commands/worker.js')).workerCommand(options);
    });

  program
    .command('checkpoints')
    .description('list checkpoints, newest first (invalid ones flagged)')
    .addOption(configOption())
    .option('-m, --model <name>', 'only this model')
    .option('-d, --dataset <name>', 'only this dataset')
    .option('--json', 'print the GET /api/checkpoints JSON')
    .option('--pin <name>', 'pin a checkpoint: retention never deletes it')
    .option('--unpin <name>', 'unpin a checkpoint')
    .action(async (options) => (await import('./commands/checkpoints.js')).checkpointsCommand(options));

  program
    .command('average')
    .description(
      'average epoch checkpoints into {model}-{dataset}-avg-{first}-{last}.pt, scored on the validation split',
    )
    .addOption(configOption())
    .option('--last <n>', 'average the newest N epoch checkpoints (at least 2)', positiveInteger)
    .option(
      '--names <names>',
      'average these checkpoints (comma-separated names from `asr-trainer checkpoints`)',
      nameList,
    )
    .option('-m, --model <name>', "model whose checkpoints to average (default: the most recent run's)")
    .option('-d, --dataset <name>', "dataset whose checkpoints to average (default: the most recent run's)")
    .option('--json', 'print the POST /api/checkpoints/average JSON')
    .addHelpText('after', '\nA run resumed from an average keeps its schedule but restarts the optimizer moments.')
    .action(async (options) => (await import('./commands/average.js')).averageCommand(options));

  program
    .command('transcribe')
    .description('transcribe WAV files with a trained checkpoint')
    .addOption(configOption())
    .argument('<files...>', 'WAV files (any rate; resampled to 16 kHz)')
    .option('--checkpoint <name>', 'checkpoint name (default: the best of --model/--dataset)')
    .option('-m, --model <name>', 'model whose best checkpoint to use when --checkpoint is not given')
    .option('-d, --dataset <name>', 'dataset whose best checkpoint to use when --checkpoint is not given')
    .option('--beam <width>', 'CTC prefix beam search of this width, 1-256 (default: greedy decoding)', beamWidth)
    .option('--json', 'print [{file, text}] as JSON')
    .action(async (files: string[], options) =>
      (await import('./commands/transcribe.js')).transcribeCommand(files, options),
    );

  program
    .command('evaluate')
    .description("CER/WER of a checkpoint on a dataset's named splits (default: its test splits)")
    .addOption(configOption())
    .requiredOption('-m, --model <name>', 'model whose best checkpoint on --dataset to score (or see --checkpoint)')
    .requiredOption('-d, --dataset <name>', 'dataset to score on')
    .option(
      '--split <name>',
      'train, validation, test (each of its splits) or one split by name, e.g. test-other',
      'test',
    )
    .option('--checkpoint <name>', 'checkpoint name (default: the best of --model on --dataset)')
    .option('--beam <width>', 'CTC prefix beam search of this width, 1-256 (default: training.val_beam)', beamWidth)
    .option('--json', 'print the POST /api/evaluate JSON')
    .action(async (options) => (await import('./commands/evaluate.js')).evaluateCommand(options));

  program
    .command('make-mini-corpus')
    .description('generate the bundled mini corpus with espeak-ng (LJSpeech layout); options go to the generator')
    .argument('[generator-options...]', "the generator's options (see `asr-trainer make-mini-corpus -- --help`)")
    .allowUnknownOption()
    .action(async (args: string[]) => {
      process.exitCode = await (await import('./commands/make-mini-corpus.js')).makeMiniCorpusCommand(args);
    });

  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  if (argv.length <= 2) {
    program.outputHelp();
    return EXIT_OK;
  }
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (err) {
    return reportError(err);
  }
}

// `asr-trainer checkpoints | head`: a closed pipe ends the command quietly, as with other shell tools.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(EXIT_OK);
  throw err;
});

process.exitCode = await main(process.argv);
