/**
 * One worker of the data-parallel bench (bench/suites/distributed.ts), started with torchrun's
 * environment names (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and
 * BENCH_THREADS, BENCH_BATCH, BENCH_STEPS, BENCH_WARMUP, BENCH_CACHE. It trains the xs model on the same
 * global batches of the mini corpus at any world size (the addon splits each batch across ranks), and
 * rank 0 prints one JSON line: per-step wall seconds, allreduce waits and utterances.
 */
import { loadNative, type World } from '../../src/native/index.js';
import { miniCorpus } from './corpus.js';

function env(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`data-parallel bench worker: ${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  const addon = loadNative();
  const worldSize = Number(env('WORLD_SIZE', '1'));
  const threads = Number(env('BENCH_THREADS'));
  const batchSize = Number(env('BENCH_BATCH'));
  const steps = Number(env('BENCH_STEPS'));
  const warmup = Number(env('BENCH_WARMUP'));
  addon.setThreads(threads);
  const store = await addon.FeatureStore.open(miniCorpus().train, {
    cache_dir: env('BENCH_CACHE'),
    cache_name: 'mini-ljspeech.train',
    threads,
  });
  let world: World | null = null;
  if (worldSize > 1) {
    world = await addon.joinWorld({
      rank: Number(env('RANK')),
      local_rank: Number(env('LOCAL_RANK')),
      world_size: worldSize,
      local_world_size: Number(env('LOCAL_WORLD_SIZE')),
      master_addr: env('MASTER_ADDR'),
      master_port: Number(env('MASTER_PORT')),
      backend: 'gloo',
      timeout_s: 120,
      device: 'cpu',
    });
  }
  const trainer = new addon.Trainer(addon.modelPreset('xs'), { threads, seed: 1, device: 'cpu' });
  await trainer.ready;
  if (world) await trainer.attachWorld(world);
  const batches = store.planEpoch({ batch_size: batchSize, seed: 1 }, 1).slice(0, warmup + steps);
  await trainer.train(store, batches.slice(0, warmup));
  const started = process.hrtime.bigint();
  const outcome = await trainer.train(store, batches.slice(warmup));
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  if ((world?.rank ?? 0) === 0) {
    const result = {
      world_size: worldSize,
      threads,
      wall_s: wallS,
      step_s: outcome.steps.map((s) => s.seconds),
      allreduce_s: outcome.steps.map((s) => s.allreduce_s ?? 0),
      utterances: outcome.steps.reduce((n, s) => n + s.utterances, 0),
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  }
  if (world) await world.barrier();
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
