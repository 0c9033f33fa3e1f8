import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Template } from '@huggingface/jinja';
import { FtcError } from '../../../src/errors.js';
import { chatRenderer } from '../../../src/runtime/preprocess/chat.js';
import { renderBounded, TEMPLATE_LIMITS } from '../../../src/runtime/preprocess/jinja-bounded.js';
import { compileTemplate } from '../../../src/runtime/preprocess/template.js';
import { tempDir } from '../../helpers.js';

const ref = { index: 1, source: 'raw' };

/** A tokenizer_config.json holding `template`, as a hostile repository would ship it. */
function chatConfig(template: string): string {
  const file = join(tempDir(), 'tokenizer_config.json');
  writeFileSync(file, JSON.stringify({ chat_template: template, eos_token: '</s>' }));
  return file;
}

const conversation = { conv: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] };

function stopped(file: string, why: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof FtcError && e.code === 'E_TEMPLATE_LIMIT', String(e));
    assert.equal(e.message.startsWith(`record 1 of \`raw\`: the chat template of cfg.json was stopped: `), true, e.message);
    assert.match(e.message, why);
    assert.equal(e.where?.file, 'cfg.json');
    return true;
  };
}

test('a chat template renders exactly as @huggingface/jinja renders it', () => {
  const chatml = "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}{{ eos_token if false else '' }}{% for i in range(3) %}{{ i }}{% endfor %}{{ none is none }}";
  const items = { messages: conversation.conv, add_generation_prompt: true, eos_token: '</s>' };
  assert.equal(renderBounded(new Template(chatml), items, 'cfg.json', 'here'), new Template(chatml).render(items));
});

test('range(100000000), nested loops and a recursive macro end in E_TEMPLATE_LIMIT naming the file', () => {
  const cases: [string, RegExp][] = [
    ['{% for i in range(100000000) %}x{% endfor %}', /range\(\) was asked for 100000000 items \(at most 100,000\)/],
    ['{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}', new RegExp(`it took more than ${TEMPLATE_LIMITS.steps.toLocaleString('en-US')} steps`)],
    ['{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}', /it nested \(or recursed\) more than 400 levels deep|it recursed too deeply/],
  ];
  for (const [template, why] of cases) {
    const render = chatRenderer(chatConfig(template), 'cfg.json', 'conv');
    assert.throws(() => render(conversation, ref), stopped('cfg.json', why), template);
  }
});

test('{constructor}, {__proto__} and {toString} in a prompt template are missing fields, not JavaScript internals', () => {
  for (const field of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const t = compileTemplate(`Q: {${field}}`, 'prompt');
    assert.throws(() => t.render({ q: 'x' }, ref), (e: unknown) => e instanceof FtcError && e.code === 'E_TEMPLATE_FIELD_MISSING' &&
      e.message === `record 1 of \`raw\`: the prompt template uses {${field}}, but the record has no field "${field}" (it has q)`, field);
  }
  // A record that really has such a field (JSON.parse makes __proto__ an own key) renders it.
  const own = JSON.parse('{"__proto__": "p", "constructor": "c"}') as Record<string, string>;
  assert.equal(compileTemplate('{__proto__}{constructor}', 'prompt').render(own, ref), 'pc');
});
