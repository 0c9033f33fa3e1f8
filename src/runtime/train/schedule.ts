/**
 * Learning-rate schedules, as the multiplier transformers' schedulers apply to the peak lr
 * at optimizer step `step` (0-based: the lr used by the first update is lr(0)).
 *
 *   constant: get_constant_schedule_with_warmup
 *   linear:   get_linear_schedule_with_warmup
 *   cosine:   get_cosine_schedule_with_warmup (num_cycles = 0.5: one half cosine down to 0)
 */

export type ScheduleKind = 'constant' | 'linear' | 'cosine';

export interface ScheduleConfig {
  kind: ScheduleKind;
  /** Peak learning rate. */
  lr: number;
  totalSteps: number;
  /** Explicit warmup steps; when 0, `warmupRatio` of the total is used. */
  warmupSteps: number;
  warmupRatio: number;
}

/** transformers' TrainingArguments.get_warmup_steps: explicit steps win, else ceil(ratio · total). */
export function warmupStepsOf(cfg: Pick<ScheduleConfig, 'totalSteps' | 'warmupSteps' | 'warmupRatio'>): number {
  return cfg.warmupSteps > 0 ? cfg.warmupSteps : Math.ceil(cfg.totalSteps * cfg.warmupRatio);
}

/** The multiplier of the peak lr at `step`, in [0, 1]. */
export function lrMultiplier(kind: ScheduleKind, step: number, warmup: number, total: number): number {
  if (step < warmup) return step / Math.max(1, warmup);
  if (kind === 'constant') return 1;
  const progress = (step - warmup) / Math.max(1, total - warmup);
  if (kind === 'linear') return Math.max(0, (total - step) / Math.max(1, total - warmup));
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** A function from optimizer step to learning rate. */
export function makeSchedule(cfg: ScheduleConfig): (step: number) => number {
  const warmup = warmupStepsOf(cfg);
  return (step) => cfg.lr * lrMultiplier(cfg.kind, step, warmup, cfg.totalSteps);
}
