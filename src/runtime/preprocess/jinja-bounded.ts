import { Environment, Interpreter, type Template } from '@huggingface/jinja';
import { FtcError } from '../../errors.js';

/**
 * Renders a chat template (Jinja, from a tokenizer_config.json anyone can publish) within a budget,
 * so `{% for i in range(100000000) %}`, nested loops or a macro calling itself end in a clear error
 * naming the file instead of running forever or overflowing the stack. The budget is far above what
 * real chat templates use on a conversation (a few thousand steps).
 */
export const TEMPLATE_LIMITS = {
  /** Expression and statement evaluations per render. */
  steps: 200_000,
  /** Nested evaluations (macro recursion, deep expressions). */
  depth: 400,
  /** Items one range() call may produce. */
  range: 100_000,
};

class BudgetExceeded extends Error {}

/** The Interpreter's surface used here (its .d.ts re-exports through extensionless paths that NodeNext does not resolve). */
interface InterpreterLike {
  run(program: unknown): { value: unknown };
  evaluate(statement: unknown, environment: unknown): unknown;
}
const InterpreterBase = Interpreter as unknown as new (env: unknown) => InterpreterLike;

/** Steps spent in one render: every evaluation, and every item a range() makes (building it costs as much as a step). */
class Budget {
  private steps = 0;
  spend(n: number): void {
    this.steps += n;
    if (this.steps > TEMPLATE_LIMITS.steps) throw new BudgetExceeded(`it took more than ${TEMPLATE_LIMITS.steps.toLocaleString('en-US')} steps`);
  }
}

class BoundedInterpreter extends InterpreterBase {
  private depth = 0;

  constructor(env: Environment, private readonly budget: Budget) {
    super(env);
  }

  override evaluate(statement: unknown, environment: unknown): unknown {
    this.budget.spend(1);
    if (++this.depth > TEMPLATE_LIMITS.depth) throw new BudgetExceeded(`it nested (or recursed) more than ${TEMPLATE_LIMITS.depth} levels deep`);
    try {
      return super.evaluate(statement, environment);
    } finally {
      this.depth--;
    }
  }
}

const boundedRange = (budget: Budget) => (start: number, stop?: number, step = 1): number[] => {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error('range() step must not be zero');
  const count = Math.max(0, Math.ceil((stop - start) / step));
  if (!(count <= TEMPLATE_LIMITS.range)) throw new BudgetExceeded(`range() was asked for ${count} items (at most ${TEMPLATE_LIMITS.range.toLocaleString('en-US')})`);
  budget.spend(count);
  return Array.from({ length: count }, (_, i) => start + i * step);
};

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** The strftime subset chat templates use (%Y %m %d %b %B %H %M %%), as @huggingface/jinja formats it. */
function strftimeNow(format: string): string {
  const d = new Date();
  const pad2 = (n: number) => String(n).padStart(2, '0');
  const by: Record<string, string> = {
    '%Y': String(d.getFullYear()), '%m': pad2(d.getMonth() + 1), '%d': pad2(d.getDate()), '%b': MONTHS[d.getMonth()]!.slice(0, 3),
    '%B': MONTHS[d.getMonth()]!, '%H': pad2(d.getHours()), '%M': pad2(d.getMinutes()), '%%': '%',
  };
  return format.replace(/%[YmdbBHM%]/g, (t) => by[t] ?? t);
}

/** The globals @huggingface/jinja's Template.render sets, with range() bounded. */
function globals(env: Environment, budget: Budget): void {
  for (const [k, v] of Object.entries({ false: false, true: true, none: null, True: true, False: false, None: null })) env.set(k, v);
  env.set('raise_exception', (message: string) => {
    throw new Error(message);
  });
  env.set('range', boundedRange(budget));
  env.set('strftime_now', strftimeNow);
}

/** Template.render within TEMPLATE_LIMITS; past them, E_TEMPLATE_LIMIT naming `display` (the template's file). */
export function renderBounded(template: Template, items: Record<string, unknown>, display: string, where: string): string {
  const env = new Environment();
  const budget = new Budget();
  globals(env, budget);
  for (const [k, v] of Object.entries(items)) env.set(k, v);
  try {
    return new BoundedInterpreter(env, budget).run(template.parsed).value as string;
  } catch (e) {
    const overflow = e instanceof RangeError && /call stack/i.test(e.message);
    if (!(e instanceof BudgetExceeded) && !overflow) throw e;
    const why = overflow ? 'it recursed too deeply' : e.message;
    throw new FtcError('E_TEMPLATE_LIMIT', `${where}: the chat template of ${display} was stopped: ${why}`, { file: display },
      'a chat template renders one conversation in a few thousand steps; check its loops and macros (the template is in the file\'s chat_template)');
  }
}
