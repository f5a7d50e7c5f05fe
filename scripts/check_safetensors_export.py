#!/usr/bin/env python3
"""Checks the engine's safetensors exports in Hugging Face transformers (run on the GPU machine).

Make the exports first (on any machine with Node; `npm run build` writes dist/cli.js):

    F=../shared/fixtures; E=export-check
    for m in tiny-llama tiny-llama3-rope tiny-qwen2 tiny-qwen3 tiny-mistral-swa tiny-mixtral-moe tiny-gpt2; do
      node dist/cli.js export --model $F/models/$m --format safetensors --out $E/$m; done
    node dist/cli.js export --model $F/models/tiny-llama --lora $F/models/tiny-llama/lora --merge \
      --format safetensors --out $E/tiny-llama+lora
    node dist/cli.js export --model $F/llama2c/stories260K.bin --format safetensors --out $E/stories260K
    node dist/cli.js export --model $F/gguf/stories260K.gguf --format safetensors --out $E/stories260K-gguf

then: python scripts/check_safetensors_export.py export-check [--fixtures ../shared/fixtures]

Each folder is loaded with AutoModelForCausalLM.from_pretrained (float32, eager attention, CPU):
  tiny-*            logits on every input of refs/<name>.shared.json against the original folder's
                    logits in the same transformers, max |diff| <= 1e-5 (and against the stored
                    reference logits, printed);
  tiny-llama+lora   against refs/tiny-llama.lora.shared.json (PEFT's logits with the adapter), <= 1e-5;
  stories260K*      greedy ids from run.c's prompts against run.c's ids (refs/stories260K.greedy.shared.json),
                    and the exported tokenizer.json encodes each prompt to run.c's prompt ids.
Exit code 1 when any check fails.
"""
import argparse
import base64
import json
import os
import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

TOL = 1e-5


def decode(a):
    return np.frombuffer(base64.b64decode(a["b64"]), dtype="<f4").reshape(a["shape"])


def load(folder):
    try:
        m = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    except TypeError:  # transformers before 4.56 names it torch_dtype
        m = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="eager")
    return m.eval()


@torch.no_grad()
def logits(model, ids):
    return model(torch.tensor([ids])).logits[0].float().numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exports")
    ap.add_argument("--fixtures", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "fixtures"))
    args = ap.parse_args()
    fx = args.fixtures
    failed = []
    for name in sorted(os.listdir(args.exports)):
        folder = os.path.join(args.exports, name)
        if not os.path.isdir(folder):
            continue
        try:
            exported = load(folder)
        except Exception as e:  # a folder transformers cannot read is a failed check, not a crash
            print(f"{name:20s} FAIL  from_pretrained: {e}")
            failed.append(name)
            continue
        if name.startswith("tiny-"):
            lora = name.endswith("+lora")
            base = name[: -len("+lora")] if lora else name
            ref = json.load(open(os.path.join(fx, "refs", f"{base}.lora.shared.json" if lora else f"{base}.shared.json")))
            original = None if lora else load(os.path.join(fx, "models", base))
            worst = worst_ref = 0.0
            for case in ref["cases"]:
                got = logits(exported, case["input_ids"])
                want_ref = decode(case["logits"])
                worst_ref = max(worst_ref, float(np.abs(got - want_ref).max()))
                want = want_ref if lora else logits(original, case["input_ids"])
                worst = max(worst, float(np.abs(got - want).max()))
            ok = worst <= TOL
            against = "PEFT reference" if lora else "original in transformers"
            print(f"{name:20s} {'ok  ' if ok else 'FAIL'}  max |Δlogit| vs {against} {worst:.2e} (vs stored reference {worst_ref:.2e})")
        elif name.startswith("stories260K"):
            ref = json.load(open(os.path.join(fx, "refs", "stories260K.greedy.shared.json")))
            tok_file = os.path.join(folder, "tokenizer.json")
            tok = PreTrainedTokenizerFast(tokenizer_file=tok_file) if os.path.exists(tok_file) else None
            ok = tok is not None
            notes = [] if ok else ["no tokenizer.json"]
            for case in ref["cases"]:
                prompt = case["prompt_ids"]
                if tok is not None and case["prompt"]:
                    enc = tok(case["prompt"])["input_ids"]
                    if enc != prompt:
                        ok = False
                        notes.append(f"tokenizer: {case['prompt']!r} -> {enc[:8]}…, run.c {prompt[:8]}…")
                want = case["generated_ids"]
                ids = list(prompt)
                with torch.no_grad():
                    for _ in range(len(want)):
                        ids.append(int(exported(torch.tensor([ids])).logits[0, -1].argmax()))
                got = ids[len(prompt):]
                if got != want:
                    ok = False
                    first = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
                    notes.append(f"greedy ids differ from run.c at step {first} of {len(want)} (prompt {case['prompt']!r})")
            print(f"{name:20s} {'ok  ' if ok else 'FAIL'}  run.c greedy ids and prompt ids{': ' + '; '.join(notes) if notes else ''}")
        else:
            print(f"{name:20s} skip  (no reference for this name)")
            continue
        if not ok:
            failed.append(name)
    print(f"{'all ok' if not failed else 'FAILED: ' + ', '.join(failed)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
