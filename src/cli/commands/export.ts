import type { Command } from 'commander';
import { Option } from 'commander';

interface ExportFlags {
  model: string;
  adapter?: string;
  format: 'peft' | 'merged' | 'gguf';
  dtype: 'f32' | 'f16' | 'bf16' | 'q8_0';
  out: string;
  force?: boolean;
}

/**
 * `ftc export --model DIR [--adapter DIR] --format peft|merged|gguf [--dtype] --out PATH`: export an adapter outside a
 * pipeline, or without --adapter a complete model (the output of full fine-tuning) in another dtype or as GGUF.
 */
export function register(program: Command): void {
  program
    .command('export')
    .description('Export a PEFT adapter: as is (peft), merged into the base weights in Hugging Face layout (merged), or as a GGUF file for llama.cpp/Ollama (gguf)')
    .requiredOption('--model <dir>', 'base model directory (Hugging Face layout) the adapter was trained on, or a fully fine-tuned model')
    .option('--adapter <dir>', 'PEFT adapter directory (adapter_config.json + adapter_model.safetensors); leave it out to export the model alone')
    .addOption(new Option('--format <format>', 'what to write').choices(['peft', 'merged', 'gguf']).default('merged'))
    .addOption(new Option('--dtype <dtype>', 'tensor type of the exported weights (q8_0 for gguf only)').choices(['f32', 'f16', 'bf16', 'q8_0']).default('f16'))
    .requiredOption('--out <path>', 'output directory, or a .gguf file for --format gguf')
    .option('--force', 'replace an existing output')
    .action(async (o: ExportFlags) => {
      // Lazy: the export code loads safetensors and tokenizer files; other commands never pay for it.
      const { exportToPath } = await import('../../runtime/export/to-path.js');
      const r = exportToPath(o);
      for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(`wrote ${r.path} (${o.format}${o.format === 'peft' ? '' : ` ${o.dtype}`}` +
        `${r.merged ? `, ${r.merged} LoRA modules merged` : ''})\n`);
    });
}
