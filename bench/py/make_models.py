"""Random-weight models for bench/run.sh, made once into WORK (argv[1]); a stamp file marks completion.

  WORK/bert      BERT-base-shaped BertModel (12 x 768, FFN 3072, vocab 30522), model.safetensors + a placeholder
                 WordPiece vocab (CTranslate2's converter wants a tokenizer)
  WORK/gpt2      GPT-2-small-shaped GPT2LMHeadModel (12 x 768, vocab 50257), model.safetensors + placeholder BPE files
  WORK/ct2/{bert,gpt2}   CTranslate2 conversions (float32)
  WORK/onnx/bert.onnx    ONNX export of WORK/bert (torch.onnx.export, opset 17, dynamic batch/seq)
  WORK/load/<fmt>  WORK/bert in each format hfx reads: safetensors, bin_zip (torch.save), bin_legacy
                 (_use_new_zipfile_serialization=False), tf_h5 (TFBertModel), flax (FlaxBertModel),
                 tf1 (TF1 checkpoint under the original BERT names, written with tf.compat.v1 Saver)
Weights: transformers' own initialisation with torch.manual_seed(0).
"""
import json
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "fixtures"))


def log(*a):
    print("make_models:", *a, file=sys.stderr, flush=True)


def bert_tokenizer_files(d, vocab):
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        for i in range(vocab):
            f.write(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"][i] if i < 5 else f"t{i}")
            f.write("\n")
    json.dump({"do_lower_case": True, "tokenizer_class": "BertTokenizer"}, open(os.path.join(d, "tokenizer_config.json"), "w"))


def gpt2_tokenizer_files(d, vocab):
    json.dump({f"t{i}": i for i in range(vocab)}, open(os.path.join(d, "vocab.json"), "w"))
    with open(os.path.join(d, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n")
    json.dump({"tokenizer_class": "GPT2Tokenizer", "unk_token": "t0", "bos_token": f"t{vocab - 1}",
               "eos_token": f"t{vocab - 1}"}, open(os.path.join(d, "tokenizer_config.json"), "w"))


def main(work):
    import torch
    import transformers
    stamp = os.path.join(work, ".made")
    if os.path.exists(stamp):
        log("models exist in", work)
        return
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    bert_dir = os.path.join(work, "bert")
    bert = transformers.BertModel(transformers.BertConfig()).eval()
    bert.save_pretrained(bert_dir, safe_serialization=True)
    bert_tokenizer_files(bert_dir, bert.config.vocab_size)
    gpt2_dir = os.path.join(work, "gpt2")
    gpt2 = transformers.GPT2LMHeadModel(transformers.GPT2Config()).eval()
    gpt2.save_pretrained(gpt2_dir, safe_serialization=True)
    gpt2_tokenizer_files(gpt2_dir, gpt2.config.vocab_size)
    log("bert/gpt2 saved")

    import ctranslate2
    for name, d in (("bert", bert_dir), ("gpt2", gpt2_dir)):
        out = os.path.join(work, "ct2", name)
        ctranslate2.converters.TransformersConverter(d).convert(out, force=True)
    log("ctranslate2 converted")

    os.makedirs(os.path.join(work, "onnx"), exist_ok=True)
    ids = torch.ones(1, 128, dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(bert, (ids, torch.ones_like(ids), torch.zeros_like(ids)), os.path.join(work, "onnx", "bert.onnx"),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state", "pooler_output"],
                          dynamic_axes={n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids")},
                          opset_version=17)
    log("onnx exported")

    load = os.path.join(work, "load")
    fmt = lambda n: os.path.join(load, n)  # noqa: E731
    shutil.copytree(bert_dir, fmt("safetensors"))
    bert.save_pretrained(fmt("bin_zip"), safe_serialization=False)
    os.makedirs(fmt("bin_legacy"))
    bert.config.save_pretrained(fmt("bin_legacy"))
    torch.save(bert.state_dict(), os.path.join(fmt("bin_legacy"), "pytorch_model.bin"), _use_new_zipfile_serialization=False)
    tf_model = transformers.TFBertModel.from_pretrained(bert_dir, from_pt=True)
    tf_model.save_pretrained(fmt("tf_h5"))
    del tf_model
    flax_model = transformers.FlaxBertModel.from_pretrained(bert_dir, from_pt=True)
    flax_model.save_pretrained(fmt("flax"))
    del flax_model
    import tf1  # tools/fixtures/tf1.py: original-BERT variable names and the tf.compat.v1 Saver writer

    class Prefixed:  # bert_vars expects BertForPreTraining's keys ("bert.encoder...")
        def state_dict(self):
            return {"bert." + k: v for k, v in bert.state_dict().items()}

    os.makedirs(fmt("tf1"))
    bert.config.save_pretrained(fmt("tf1"))
    tf1.write_tf1(os.path.join(fmt("tf1"), "model.ckpt"), tf1.bert_vars(Prefixed()))
    log("load formats written")
    open(stamp, "w").close()


if __name__ == "__main__":
    main(sys.argv[1])
