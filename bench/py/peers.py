"""The Python contenders of bench/run.sh, one process per contender.

  peers.py serve <kind> <path>    kind: torch_enc | ct2_enc | ort_enc | torch_dec | ct2_dec
                                  | ct2_enc_int8 | ort_enc_int8 | torch_enc_int8 (dynamic int8)
      line protocol on stdin/stdout (as hfx_bench serve):
        encoder <B> <S> <iters>   -> seconds per forward
        decode <prompt> <new>     -> seconds for <new> greedy tokens, batch 1
        quit
  peers.py load <dir>             transformers AutoModel.from_pretrained + one forward (b1 s128) in this fresh
                                  process: prints {"first_output_s", "import_s", "peak_rss_mb"}
Threads: 2 everywhere (torch.set_num_threads, ORT intra_op_num_threads, CT2 intra_threads); OMP_NUM_THREADS
is set by the caller. Ids: id(i) = (i*7919 + 13) % vocab, as hfx_bench uses.
"""
import json
import resource
import sys
import time

THREADS = 2


def ids(B, S, vocab):
    return [[((b * S + i) * 7919 + 13) % vocab for i in range(S)] for b in range(B)]


def versions():
    import ctranslate2
    import onnxruntime
    import torch
    import transformers
    return {"torch": torch.__version__, "transformers": transformers.__version__, "ctranslate2": ctranslate2.__version__,
            "onnxruntime": onnxruntime.__version__}


class Torch:
    auto_class = "AutoModel"

    def __init__(self, path):
        import torch
        import transformers
        torch.set_num_threads(THREADS)
        self.torch = torch
        self.m = getattr(transformers, self.auto_class).from_pretrained(path).eval()
        self.vocab = self.m.config.vocab_size


class TorchEnc(Torch):

    def encoder(self, B, S, iters):
        t = self.torch.tensor(ids(B, S, self.vocab))
        mask = self.torch.ones_like(t)
        with self.torch.inference_mode():
            self.m(input_ids=t, attention_mask=mask)
            t0 = time.perf_counter()
            for _ in range(iters):
                self.m(input_ids=t, attention_mask=mask)
        return (time.perf_counter() - t0) / iters


class OrtEnc:
    def __init__(self, path):
        import numpy as np
        import onnxruntime as ort
        o = ort.SessionOptions()
        o.intra_op_num_threads = THREADS
        o.inter_op_num_threads = 1
        o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.np = np
        self.s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
        self.vocab = 30522

    def encoder(self, B, S, iters):
        t = self.np.array(ids(B, S, self.vocab), dtype=self.np.int64)
        feed = {"input_ids": t, "attention_mask": self.np.ones_like(t), "token_type_ids": self.np.zeros_like(t)}
        self.s.run(None, feed)
        t0 = time.perf_counter()
        for _ in range(iters):
            self.s.run(None, feed)
        return (time.perf_counter() - t0) / iters


class Ct2Enc:
    compute_type = "float32"

    def __init__(self, path):
        import ctranslate2
        self.m = ctranslate2.Encoder(path, device="cpu", compute_type=self.compute_type, intra_threads=THREADS,
                                     inter_threads=1)
        self.vocab = 30522

    def encoder(self, B, S, iters):
        x = ids(B, S, self.vocab)
        self.m.forward_batch(x)
        t0 = time.perf_counter()
        for _ in range(iters):
            self.m.forward_batch(x)
        return (time.perf_counter() - t0) / iters


class Ct2EncInt8(Ct2Enc):
    """CTranslate2's int8 (its CPU default for speed): the float32 model quantized on load."""
    compute_type = "int8"


class OrtEncInt8(OrtEnc):
    """ONNX Runtime's quantize_dynamic (QInt8 weights, the documented recipe for transformers on CPU), written once
    beside the float model as <name>.int8.onnx."""

    def __init__(self, path):
        import os
        q = path[:-len(".onnx")] + ".int8.onnx"
        if not os.path.exists(q):
            from onnxruntime.quantization import QuantType, quantize_dynamic
            quantize_dynamic(path, q + ".tmp", weight_type=QuantType.QInt8)
            os.replace(q + ".tmp", q)
        super().__init__(q)


class TorchEncInt8(TorchEnc):
    """PyTorch's dynamic int8: torch.ao.quantization.quantize_dynamic over every nn.Linear."""

    def __init__(self, path):
        super().__init__(path)
        self.m = self.torch.ao.quantization.quantize_dynamic(self.m, {self.torch.nn.Linear}, dtype=self.torch.qint8)


class TorchDec(Torch):
    auto_class = "AutoModelForCausalLM"

    def decode(self, prompt, new):
        t = self.torch.tensor(ids(1, prompt, self.vocab))
        t0 = time.perf_counter()
        with self.torch.inference_mode():
            out = self.m.generate(t, attention_mask=self.torch.ones_like(t), do_sample=False, max_new_tokens=new,
                                  min_new_tokens=new, pad_token_id=0)
        s = time.perf_counter() - t0
        assert out.shape[1] == prompt + new, out.shape
        return s


class Ct2Dec:
    def __init__(self, path):
        import ctranslate2
        self.m = ctranslate2.Generator(path, device="cpu", compute_type="float32", intra_threads=THREADS, inter_threads=1)
        self.vocab = 50257

    def decode(self, prompt, new):
        toks = [[f"t{i}" for i in ids(1, prompt, self.vocab)[0]]]
        t0 = time.perf_counter()
        r = self.m.generate_batch(toks, max_length=new, min_length=new, sampling_topk=1, include_prompt_in_result=False,
                                  beam_size=1)
        s = time.perf_counter() - t0
        assert len(r[0].sequences_ids[0]) == new, len(r[0].sequences_ids[0])
        return s


KINDS = {"torch_enc": TorchEnc, "ort_enc": OrtEnc, "ct2_enc": Ct2Enc, "ct2_enc_int8": Ct2EncInt8, "ort_enc_int8": OrtEncInt8,
         "torch_enc_int8": TorchEncInt8, "torch_dec": TorchDec, "ct2_dec": Ct2Dec}


def serve(kind, path):
    c = KINDS[kind](path)
    print("ok", flush=True)
    for line in sys.stdin:
        p = line.split()
        if not p or p[0] == "quit":
            break
        try:
            if p[0] == "encoder":
                r = c.encoder(int(p[1]), int(p[2]), int(p[3]))
            elif p[0] == "decode":
                r = c.decode(int(p[1]), int(p[2]))
            elif p[0] == "versions":
                r = json.dumps(versions())
            else:
                raise ValueError("unknown command " + p[0])
            print(r, flush=True)
        except Exception as e:  # reported to the orchestrator, which fails the run
            print("error", repr(e).replace("\n", " "), flush=True)


def load(path):
    t0 = time.perf_counter()
    import torch
    import transformers
    torch.set_num_threads(THREADS)
    t1 = time.perf_counter()
    m = transformers.AutoModel.from_pretrained(path).eval()
    with torch.inference_mode():
        out = m(input_ids=torch.tensor(ids(1, 128, m.config.vocab_size)))
    t2 = time.perf_counter()
    assert out.last_hidden_state.numel() > 0
    print(json.dumps({"first_output_s": t2 - t1, "import_s": t1 - t0,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "load":
        load(sys.argv[2])
    elif sys.argv[1] == "versions":
        print(json.dumps(versions()))
