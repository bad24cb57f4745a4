import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ErrorBodySchema,
  StatusSchema,
  TrainRequestSchema,
  TrainStartedSchema,
  TrainStoppingSchema,
  type TrainStarted,
} from '../../contract/index.js';
import type { RunPlan } from '../../training/plan.js';
import type { TrainingSupervisor } from '../../training/supervisor.js';

const errors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  404: ErrorBodySchema,
  409: ErrorBodySchema,
  415: ErrorBodySchema,
  422: ErrorBodySchema,
};

export function trainRoutes(supervisor: TrainingSupervisor): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/api/train/start',
      {
        schema: {
          summary: 'Start training; resumes the latest valid checkpoint unless resume_from_checkpoint is false',
          tags: ['training'],
          body: TrainRequestSchema,
          response: { 202: TrainStartedSchema, ...errors },
        },
      },
      async (request, reply) => {
        const plan = await supervisor.start(request.body);
        return reply.code(202).send(started(plan));
      },
    );

    app.post(
      '/api/train/resume',
      {
        schema: {
          summary: 'Resume training from the latest (or the named) checkpoint; 404 when there is none',
          tags: ['training'],
          body: TrainRequestSchema,
          response: { 202: TrainStartedSchema, ...errors },
        },
      },
      async (request, reply) => {
        const plan = await supervisor.start({ ...request.body, resume_from_checkpoint: true }, { mustResume: true });
        return reply.code(202).send(started(plan));
      },
    );

    app.post(
      '/api/train/stop',
      {
        schema: {
          summary: 'Stop the run: it finishes the current step, saves a checkpoint and exits',
          tags: ['training'],
          response: { 202: TrainStoppingSchema, ...errors },
        },
      },
      async (_request, reply) => reply.code(202).send(supervisor.stop()),
    );

    app.get(
      '/api/train/status',
      {
        schema: {
          summary: 'The current or last run',
          tags: ['training'],
          response: { 200: StatusSchema, 401: ErrorBodySchema },
        },
      },
      async () => supervisor.status(),
    );
  };
}

function started(plan: RunPlan): TrainStarted {
  return {
    status: 'started',
    run_id: plan.run_id,
    resumed_from: plan.resumed_from,
    start_epoch: plan.start_epoch,
    start_step: plan.start_step,
    epochs: plan.epochs,
    warnings: plan.warnings,
  };
}
