"""Imports a job that `ftc compile --target accelerate` wrote and builds its config objects on CPU.

stdin: {"job": job directory, "output": a scratch output directory}. Runs train.py's module level
(LoraConfig, BitsAndBytesConfig when quantized) and its training_arguments(); prints what transformers
and peft made of them, so the test compares them with the pipeline.
"""
import importlib.util
import json
import sys
from pathlib import Path


def main():
    inp = json.load(sys.stdin)
    job = Path(inp["job"])
    sys.path.insert(0, str(job))  # train.py imports ftc_data from its own directory
    spec = importlib.util.spec_from_file_location("ftc_job_train", job / "train.py")
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)

    from peft import LoraConfig
    from transformers import BitsAndBytesConfig, TrainingArguments

    lora = train.LORA
    args = train.training_arguments(Path(inp["output"]))
    quant = getattr(train, "QUANTIZATION", None)
    target = lora.target_modules
    out = {
        "lora": {
            "is_lora_config": isinstance(lora, LoraConfig),
            "r": lora.r,
            "lora_alpha": lora.lora_alpha,
            "target_modules": target if isinstance(target, str) else sorted(target),
            "lora_dropout": lora.lora_dropout,
            "task_type": str(lora.task_type.value if hasattr(lora.task_type, "value") else lora.task_type),
        },
        "args": {
            "is_training_arguments": isinstance(args, TrainingArguments),
            "per_device_train_batch_size": args.per_device_train_batch_size,
            "gradient_accumulation_steps": args.gradient_accumulation_steps,
            "num_train_epochs": args.num_train_epochs,
            "learning_rate": args.learning_rate,
            "lr_scheduler_type": str(args.lr_scheduler_type.value),
            "warmup_steps": args.warmup_steps,
            "bf16": args.bf16,
            "fp16": args.fp16,
            "eval_strategy": str(args.eval_strategy.value),
            "eval_steps": args.eval_steps,
            "save_steps": args.save_steps,
            "load_best_model_at_end": args.load_best_model_at_end,
            "metric_for_best_model": args.metric_for_best_model,
            "seed": args.seed,
            "use_cpu": args.use_cpu,
        },
        "quantization": None
        if quant is None
        else {
            "is_bnb_config": isinstance(quant, BitsAndBytesConfig),
            "load_in_4bit": quant.load_in_4bit,
            "bnb_4bit_quant_type": quant.bnb_4bit_quant_type,
            "bnb_4bit_compute_dtype": str(quant.bnb_4bit_compute_dtype),
            "bnb_4bit_use_double_quant": quant.bnb_4bit_use_double_quant,
        },
        "data_seed": train.DATA_SEED,
        "early_stopping_patience": train.EARLY_STOPPING_PATIENCE,
        "strategy": train.STRATEGY,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
