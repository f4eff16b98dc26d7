"""GGUF files written by the `gguf` package (llama.cpp's gguf-py, pinned in requirements.txt) for tests/gguf_test.cc.

  write_reference.py model FIXTURE_DIR OUT.gguf OUTTYPE   # f32 | f16 | q8_0 | q4_0
      A fixture checkpoint (config.json + model.safetensors) as convert_hf_to_gguf.py writes it: names from
      gguf-py's own TensorNameMap, llama's Q/K permutation (LlamaModel.permute), gemma's norm + 1, gpt2's
      Conv1D transposes and output.weight copy, hyper-parameters with GGUFWriter's add_* methods, tensors
      quantized by gguf.quants.quantize (1-D tensors stay F32; rows not divisible by the block: F16).
  write_reference.py quants OUT.gguf
      One tensor per type (Q8_0, Q4_0 from gguf.quants.quantize of random data; Q4_K from random blocks with
      small finite scales) and beside each "<name>.ref" = gguf.quants.dequantize of it in F32.
"""
import json
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    base = 8 + n
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", (name, e["dtype"])
        b, en = e["data_offsets"]
        out[name] = np.frombuffer(raw[base + b:base + en], dtype=np.float32).reshape(e["shape"]).copy()
    return out


def permute(w, n_head, n_head_kv):  # convert_hf_to_gguf.py LlamaModel.permute
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def add(writer, name, data, outtype):
    qt = {"f32": Q.F32, "f16": Q.F16, "q8_0": Q.Q8_0, "q4_0": Q.Q4_0}[outtype]
    if data.ndim <= 1 or name == "position_embd.weight":  # the converter keeps these in float32
        qt = Q.F32
    if qt in (Q.Q8_0, Q.Q4_0) and data.shape[-1] % 32 != 0:
        qt = Q.F16
    if qt == Q.F32:
        writer.add_tensor(name, data.astype(np.float32))
    elif qt == Q.F16:
        writer.add_tensor(name, data.astype(np.float16))
    else:
        writer.add_tensor(name, gguf.quants.quantize(data.astype(np.float32), qt), raw_dtype=qt)


def model(fixture, out, outtype):
    cfg = json.load(open(f"{fixture}/config.json"))
    sd = read_safetensors(f"{fixture}/model.safetensors")
    mt = cfg["model_type"]
    arch = {"llama": gguf.MODEL_ARCH.LLAMA, "qwen2": gguf.MODEL_ARCH.QWEN2, "gemma": gguf.MODEL_ARCH.GEMMA,
            "gpt2": gguf.MODEL_ARCH.GPT2}[mt]
    arch_name = gguf.MODEL_ARCH_NAMES[arch]
    n_layer = cfg["n_layer"] if mt == "gpt2" else cfg["num_hidden_layers"]
    tmap = gguf.get_tensor_name_map(arch, n_layer)
    w = gguf.GGUFWriter(out, arch_name)
    w.add_name("reference")
    if mt == "gpt2":
        w.add_block_count(n_layer)
        w.add_context_length(cfg["n_positions"])
        w.add_embedding_length(cfg["n_embd"])
        w.add_feed_forward_length(cfg.get("n_inner") or 4 * cfg["n_embd"])
        w.add_head_count(cfg["n_head"])
        w.add_layer_norm_eps(cfg["layer_norm_epsilon"])
    else:
        heads = cfg["num_attention_heads"]
        kv = cfg.get("num_key_value_heads") or heads
        w.add_block_count(n_layer)
        w.add_context_length(cfg["max_position_embeddings"])
        w.add_embedding_length(cfg["hidden_size"])
        w.add_feed_forward_length(cfg["intermediate_size"])
        w.add_head_count(heads)
        w.add_head_count_kv(kv)
        w.add_rope_freq_base(cfg.get("rope_theta", 10000.0))
        w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
        hd = cfg.get("head_dim") or cfg["hidden_size"] // heads
        if mt == "gemma" or hd != cfg["hidden_size"] // heads:
            w.add_key_length(hd)
            w.add_value_length(hd)
    if cfg.get("bos_token_id") is not None:
        w.add_bos_token_id(cfg["bos_token_id"])
    if cfg.get("eos_token_id") is not None:
        w.add_eos_token_id(cfg["eos_token_id"])
    w.add_file_type({"f32": 0, "f16": 1, "q8_0": 7, "q4_0": 2}[outtype])
    for name, data in sd.items():
        if name.endswith((".attn.bias", ".attn.masked_bias")) or name.endswith("rotary_emb.inv_freq"):
            continue
        if mt == "llama":
            if name.endswith(("q_proj.weight", "q_proj.bias")):
                data = permute(data, heads, heads)
            if name.endswith(("k_proj.weight", "k_proj.bias")):
                data = permute(data, heads, kv)
        if mt == "gemma" and name.endswith("norm.weight"):
            data = data + 1
        if mt == "gpt2" and name.endswith((".c_attn.weight", ".c_proj.weight", ".c_fc.weight")):
            data = data.T.copy()
        new = tmap.get_name(name, try_suffixes=(".weight", ".bias"))
        assert new is not None, name
        add(w, new, data, outtype)
        if mt == "gpt2" and new == "token_embd.weight" and "lm_head.weight" not in sd:
            add(w, "output.weight", data, outtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def quants(out):
    rng = np.random.default_rng(0)
    w = gguf.GGUFWriter(out, "llama")
    for qt, shape in ((Q.Q8_0, (3, 64)), (Q.Q4_0, (2, 96))):
        x = rng.standard_normal(shape).astype(np.float32)
        q = gguf.quants.quantize(x, qt)
        w.add_tensor(qt.name, q, raw_dtype=qt)
        w.add_tensor(qt.name + ".ref", gguf.quants.dequantize(q, qt).astype(np.float32))
    # Q4_K: random blocks (d, dmin finite f16, random 6-bit scales and nibbles)
    n_blocks = 4
    blocks = rng.integers(0, 256, size=(n_blocks, 144), dtype=np.uint8)
    d = rng.uniform(0.001, 0.05, size=(n_blocks, 2)).astype(np.float16)
    blocks[:, 0:4] = d.view(np.uint8).reshape(n_blocks, 4)
    q = blocks.reshape(2, 2 * 144)
    w.add_tensor("Q4_K", q, raw_dtype=Q.Q4_K)
    w.add_tensor("Q4_K.ref", gguf.quants.dequantize(q, Q.Q4_K).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    if sys.argv[1] == "model":
        model(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        quants(sys.argv[2])
