"""PyTorch peer for engine/gpu/gpu.bench.ts: a random-init LlamaForCausalLM / Qwen3ForCausalLM
from a config, on CUDA, f32 and f16; prefill tokens/s and greedy `generate` decode tokens/s.
Reads one JSON job on argv[1], prints one JSON line per (model, dtype)."""
import json, sys, time
import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen3Config, Qwen3ForCausalLM

job = json.loads(sys.argv[1])
dev = "cuda"
torch.manual_seed(0)

def sync():
    torch.cuda.synchronize()

for m in job["models"]:
    cfg = m["hf"]
    Cls, Cfg = (Qwen3ForCausalLM, Qwen3Config) if cfg.get("model_type") == "qwen3" else (LlamaForCausalLM, LlamaConfig)
    for dtype in job["dtypes"]:
        td = torch.float32 if dtype == "f32" else torch.float16
        conf = Cfg(**{k: v for k, v in cfg.items() if k != "model_type"})
        conf._attn_implementation = "sdpa"
        with torch.device(dev):
            model = Cls(conf).to(td).eval()
        out = {"model": m["name"], "dtype": dtype, "torch": torch.__version__}
        with torch.no_grad():
            P = job["prefill"]
            ids = torch.randint(0, conf.vocab_size, (1, P), device=dev)
            for _ in range(2):
                model(ids)
            sync(); t = time.perf_counter()
            for _ in range(3):
                model(ids)
            sync(); out["prefill_tps"] = 3 * P / (time.perf_counter() - t)
            D = job["decode"]
            for ctx in job["contexts"]:
                prompt = torch.randint(0, conf.vocab_size, (1, ctx), device=dev)
                kw = dict(do_sample=False, pad_token_id=0, eos_token_id=None)
                model.generate(prompt, max_new_tokens=4, min_new_tokens=4, **kw)
                sync(); t = time.perf_counter()
                model.generate(prompt, max_new_tokens=1, min_new_tokens=1, **kw)
                sync(); t1 = time.perf_counter() - t
                t = time.perf_counter()
                model.generate(prompt, max_new_tokens=D + 1, min_new_tokens=D + 1, **kw)
                sync(); tn = time.perf_counter() - t
                out[f"decode_tps_{ctx}"] = D / (tn - t1)
        print(json.dumps(out), flush=True)
        del model
        torch.cuda.empty_cache()
