"""Orchestrates bench/run.sh: hfx (bench/hfx_bench) vs transformers / CTranslate2 / ONNX Runtime, interleaved.

Every contender runs as its own long-lived process (hfx_bench serve / peers.py serve) and answers one
measurement per request; each round asks every contender once, in a rotating order, so that load from
other processes on a shared machine hits all of them alike. Reported: median, min, max over the rounds,
and hfx's speed-up as the median over rounds of the per-round ratio (peer time / hfx time).
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

E, L, F = 768, 12, 3072  # BERT-base: hidden, layers, FFN


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


class Proc:
    def __init__(self, name, argv, env):
        self.name = name
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)

    def ask(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        r = self.p.stdout.readline().strip()
        if not r or r.startswith("error"):
            raise RuntimeError(f"{self.name}: '{line}' -> {r or 'no answer (crashed?)'}")
        return r

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        self.p.wait(timeout=60)


def stats(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": xs}


def rounds(contenders, request, n, warmup=1):
    """contenders: {name: Proc}; request(name) -> line. Returns {name: [float per round]}."""
    names = list(contenders)
    out = {k: [] for k in names}
    for r in range(-warmup, n):
        order = names[r % len(names):] + names[:r % len(names)] if r >= 0 else names
        for k in order:
            v = float(contenders[k].ask(request(k)))
            if r >= 0:
                out[k].append(v)
    return out


def paired_ratio(num, den):
    return statistics.median(a / b for a, b in zip(num, den))


def encoder_flops(B, S):
    T = B * S
    return 2 * T * E * E * 4 + 2 * T * E * F * 2 + 2 * 2 * B * S * S * E  # projections, FFN, QK^T and PV (x L below)


def cpu_info():
    info = {"model_name": "?", "flags_avx512f": False, "nproc": os.cpu_count()}
    try:
        for line in open("/proc/cpuinfo"):
            k, _, v = line.partition(":")
            k = k.strip()
            if k == "model name" and info["model_name"] == "?":
                info["model_name"] = v.strip()
            if k in ("cpu family", "model") and k not in info:
                info[k] = v.strip()
            if k == "flags":
                info["flags_avx512f"] = "avx512f" in v.split()
    except OSError:
        pass
    return info


def dpkg_version(pkg):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def child_json(argv, env):
    r = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hfx-bench", required=True)
    ap.add_argument("--kernels-bench")
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="gemm,encoder,lowp,decoder,load,convert,kernels")
    a = ap.parse_args()
    only = set(a.only.split(","))
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), MKL_NUM_THREADS=str(a.threads))
    py = sys.executable
    W = a.work
    res = {"date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"), "threads": a.threads,
           "rounds": a.rounds, "cpu": cpu_info(), "loadavg_start": os.getloadavg(),
           "boost": open("/proc/self/autogroup").read().strip() + f", nice {os.nice(0)}",
           "machine_note": "shared machine (other engineers compiling C++ during the run): absolute times are noisy; "
                           "compare the ratios, which come from the same rounds",
           "versions": {"hfx": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                              cwd=ROOT).stdout.strip(),
                        "onednn": dpkg_version("libdnnl2"), "python": platform.python_version()}}
    res["versions"].update(json.loads(subprocess.run([py, os.path.join(HERE, "peers.py"), "versions"], capture_output=True,
                                                     text=True, env=env).stdout))
    hfx = Proc("hfx", [a.hfx_bench, "serve"], env)
    peers = []

    def peer(kind, path):
        p = Proc(kind, [py, os.path.join(HERE, "peers.py"), "serve", kind, path], env)
        if p.p.stdout.readline().strip() != "ok":
            raise RuntimeError(kind + " did not start")
        peers.append(p)
        return p

    try:
        if "gemm" in only:
            log("GEMM peak")
            shapes = [(M, N, K) for M in (128, 1024) for (N, K) in ((768, 768), (2304, 768), (3072, 768), (768, 3072))]
            g = {}
            for r in range(a.rounds):
                for (M, N, K) in shapes:
                    g.setdefault(f"{M}x{N}x{K}", []).append(float(hfx.ask(f"gemm {M} {N} {K} {20 if M == 128 else 4}")))
            res["gemm"] = {k: stats(v) for k, v in g.items()}
            # The peak is the best single measurement on these shapes (not a median): the strict choice,
            # since a noisy, low peak would flatter every "% of peak" column.
            res["gemm_peak"] = {str(M): max(v["max"] for k, v in res["gemm"].items() if k.startswith(f"{M}x"))
                                for M in (128, 1024)}
        if "encoder" in only:
            log("encoder")
            hfx.ask(f"enc {W}/bert")
            c = {"hfx": hfx, "transformers": peer("torch_enc", f"{W}/bert"), "ctranslate2": peer("ct2_enc", f"{W}/ct2/bert"),
                 "onnxruntime": peer("ort_enc", f"{W}/onnx/bert.onnx")}
            res["encoder"] = {}
            for B in (1, 8):
                iters = 5 if B == 1 else 1
                t = rounds(c, lambda k: f"encoder {B} 128 {iters}", a.rounds)
                flops = encoder_flops(B, 128) * L
                peak = res.get("gemm_peak", {}).get("128" if B == 1 else "1024")
                e = {k: stats(v) for k, v in t.items()}
                for k in e:
                    e[k]["gflops"] = flops / e[k]["median"] / 1e9
                    if peak:
                        e[k]["pct_of_gemm_peak"] = 100.0 * e[k]["gflops"] / peak
                    if k != "hfx":
                        e[k]["hfx_speedup"] = paired_ratio(t[k], t["hfx"])
                res["encoder"][f"b{B}s128"] = e
            for p in list(c.values())[1:]:
                p.close()
                peers.remove(p)
        if "lowp" in only:
            # Issue 22: BERT-base b1/b8 s128 in hfx int8 (LoadOptions::quantize) and bf16 (torch_dtype) against hfx
            # fp32 and the peers' int8 (CTranslate2 compute_type int8, ONNX Runtime quantize_dynamic QInt8, PyTorch
            # quantize_dynamic), every contender its own process, rounds interleaved.
            log("low precision encoder")
            c = {}
            for prec in ("fp32", "int8", "bf16"):
                p = Proc("hfx_" + prec, [a.hfx_bench, "serve"], env)
                peers.append(p)
                p.ask(f"enc {W}/bert {prec}")
                c["hfx_" + prec] = p
            c["ctranslate2_int8"] = peer("ct2_enc_int8", f"{W}/ct2/bert")
            c["onnxruntime_int8"] = peer("ort_enc_int8", f"{W}/onnx/bert.onnx")
            c["transformers_int8"] = peer("torch_enc_int8", f"{W}/bert")
            res["lowp"] = {}
            for B in (1, 8):
                iters = 5 if B == 1 else 1
                t = rounds(c, lambda k: f"encoder {B} 128 {iters}", a.rounds)
                e = {k: stats(v) for k, v in t.items()}
                for k in e:
                    e[k]["speedup_vs_hfx_fp32"] = paired_ratio(t["hfx_fp32"], t[k])
                    if k.endswith("_int8") and k != "hfx_int8":
                        e[k]["hfx_int8_speedup"] = paired_ratio(t[k], t["hfx_int8"])
                res["lowp"][f"b{B}s128"] = e
            for p in c.values():
                p.close()
                peers.remove(p)
        if "decoder" in only:
            log("decoder")
            hfx.ask(f"dec {W}/gpt2")

            class Alias:  # hfx without cache is the same process, another request
                def __init__(self, p):
                    self.ask = p.ask
            c = {"hfx": hfx, "hfx_nocache": Alias(hfx), "transformers": peer("torch_dec", f"{W}/gpt2"),
                 "ctranslate2": peer("ct2_dec", f"{W}/ct2/gpt2")}
            req = {"hfx": "decode cache 32 128", "hfx_nocache": "decode nocache 32 128", "transformers": "decode 32 128",
                   "ctranslate2": "decode 32 128"}
            t = rounds(c, lambda k: req[k], a.rounds)
            d = {}
            for k, v in t.items():
                d[k] = stats([128 / s for s in v])
                d[k]["unit"] = "tokens/s"
                if k != "hfx":
                    d[k]["hfx_speedup"] = paired_ratio(v, t["hfx"])
            res["decoder"] = d
            for p in list(c.values())[2:]:
                p.close()
                peers.remove(p)
        hfx.close()
        if "load" in only:
            log("load")
            fmts = [("safetensors", ""), ("bin_zip", ""), ("bin_legacy", ""), ("tf_h5", "tf"), ("flax", "flax"), ("tf1", "tf")]
            cont = [("hfx:" + f, [a.hfx_bench, "load", f"{W}/load/{f}"] + ([fr] if fr else [])) for f, fr in fmts]
            cont += [("transformers:" + f, [py, os.path.join(HERE, "peers.py"), "load", f"{W}/load/{f}"])
                     for f in ("safetensors", "bin_zip")]
            runs = {k: [] for k, _ in cont}
            for r in range(-1, a.rounds):  # round -1 warms the page cache
                for k, argv in (cont[r % len(cont):] + cont[:r % len(cont)] if r >= 0 else cont):
                    j = child_json(argv, env)
                    if r >= 0:
                        runs[k].append(j)
            ld = {}
            for k, js in runs.items():
                ld[k] = stats([j["first_output_s"] for j in js])
                ld[k]["peak_rss_mb"] = statistics.median(j["peak_rss_mb"] for j in js)
                if "import_s" in js[0]:
                    ld[k]["import_s"] = statistics.median(j["import_s"] for j in js)
            ref = [j["first_output_s"] for j in runs["transformers:safetensors"]]
            for k in ld:
                if k.startswith("hfx:"):
                    ld[k]["speedup_vs_transformers_safetensors"] = paired_ratio(ref, ld[k]["runs"])
            ld["model_bytes"] = os.path.getsize(f"{W}/load/safetensors/model.safetensors")
            res["load"] = ld
        if "convert" in only:
            # Checkpoint -> model.safetensors + config.json, each conversion in a fresh process (peak RSS is the
            # process's): "stream" = convert_model_directory (one tensor at a time, source pages released),
            # "load" = from_pretrained + write_model_directory (the whole model in memory), for comparison.
            # Rounds are interleaved (every conversion once per round, one warm-up round first), so that the
            # machine's slow spells (page-cache writeback, discards of the previous output's blocks) fall on
            # every conversion alike.
            cases = []
            for key, src, files, how in (("tf1 stream", "tf1", "model.ckpt", "stream"), ("tf1 load", "tf1", "model.ckpt", "load"),
                                         ("tf_h5 stream", "tf_h5", "tf_model.h5", "stream"),
                                         ("flax stream", "flax", "flax_model.msgpack", "stream"),
                                         ("bin_zip stream", "bin_zip", "pytorch_model.bin", "stream"),
                                         ("bin_legacy stream", "bin_legacy", "pytorch_model.bin", "stream"),
                                         ("safetensors stream", "safetensors", "model.safetensors", "stream")):
                d = f"{W}/load/{src}"
                if os.path.isdir(d):
                    nbytes = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.startswith(files))
                    frm = "tf" if src in ("tf1", "tf_h5") else "flax" if src == "flax" else "pt"
                    cases.append((key, d, nbytes, frm, how))
            runs = {c[0]: [] for c in cases}
            for r in range(-1, a.rounds):
                log("convert round", r + 1, "of", a.rounds, "(warm-up)" if r < 0 else "")
                for key, d, nbytes, frm, how in cases:
                    j = child_json([a.hfx_bench, "convert", d, f"{W}/converted", frm, how], env)
                    if r >= 0:
                        runs[key].append(j)
            cv = {}
            for key, d, nbytes, frm, how in cases:
                js = runs[key]
                c = stats([nbytes / 1e6 / j["seconds"] for j in js])
                c.update(unit="MB/s (checkpoint bytes read)", input_bytes=nbytes, output_bytes=js[0]["bytes"],
                         peak_rss_mb=statistics.median(j["peak_rss_mb"] for j in js),
                         start_rss_mb=statistics.median(j["start_rss_mb"] for j in js),
                         largest_tensor_mb=js[0]["largest_tensor_mb"])
                cv[key] = c
            res["convert"] = cv
        if "kernels" in only and a.kernels_bench:
            log("kernel microbenchmarks")
            kj = os.path.join(a.out, "kernels.json")
            subprocess.run([a.kernels_bench, f"--benchmark_repetitions={a.rounds}", "--benchmark_report_aggregates_only=true",
                            "--benchmark_format=json", f"--benchmark_out={kj}", "--benchmark_out_format=json"],
                           env=env, check=True, capture_output=True)
            kd = json.load(open(kj))
            res["kernels"] = {b["run_name"]: {"median_us": b["real_time"], **({"GFLOP/s": b["GFLOP/s"]} if "GFLOP/s" in b else {}),
                                              **({"GB/s": b["bytes_per_second"] / 1e9} if "bytes_per_second" in b else {})}
                              for b in kd["benchmarks"] if b.get("aggregate_name") == "median"}
    finally:
        for p in peers:
            p.p.kill()
    res["loadavg_end"] = os.getloadavg()
    os.makedirs(a.out, exist_ok=True)
    json.dump(res, open(os.path.join(a.out, "bench.json"), "w"), indent=1)
    md = markdown(res)
    open(os.path.join(a.out, "bench.md"), "w").write(md)
    print(md)


def f1(x):
    return f"{x:.1f}"


def targets(r):
    t = []
    e = r.get("encoder", {}).get("b1s128")
    if e:
        t.append(("encoder b1 s128 ≥ 1.5× transformers", f"{e['transformers']['hfx_speedup']:.2f}×", e["transformers"]["hfx_speedup"] >= 1.5))
        t.append(("encoder b1 s128 ≥ 1.0× CTranslate2", f"{e['ctranslate2']['hfx_speedup']:.2f}×", e["ctranslate2"]["hfx_speedup"] >= 1.0))
        if "pct_of_gemm_peak" in e["hfx"]:
            t.append(("encoder b1 s128 ≥ 70 % of measured GEMM peak", f"{e['hfx']['pct_of_gemm_peak']:.1f} %", e["hfx"]["pct_of_gemm_peak"] >= 70))
    for shape, e in r.get("lowp", {}).items():
        i8 = e["hfx_int8"]
        t.append((f"lowp {shape} hfx int8 ≥ 2× hfx fp32 (issue #22)", f"{i8['speedup_vs_hfx_fp32']:.2f}×", i8["speedup_vs_hfx_fp32"] >= 2))
        for peer in ("ctranslate2_int8", "onnxruntime_int8"):
            if peer in e:
                sp = e[peer]["hfx_int8_speedup"]
                t.append((f"lowp {shape} hfx int8 ≥ 1.2× {peer}", f"{sp:.2f}×", sp >= 1.2))
    d = r.get("decoder")
    if d:
        t.append(("decoder ≥ 2× transformers tokens/s", f"{d['transformers']['hfx_speedup']:.2f}×", d["transformers"]["hfx_speedup"] >= 2))
    ld = r.get("load", {}).get("hfx:safetensors")
    if ld:
        sp = ld["speedup_vs_transformers_safetensors"]
        t.append(("load-to-first-output ≥ 10× transformers (safetensors)", f"{sp:.1f}×", sp >= 10))
    for k, c in r.get("convert", {}).items():
        if k.endswith(" stream") and "median" in c:
            t.append((f"convert {k[:-7]} ≥ 1 GB/s", f"{c['median']:.0f} MB/s", c["median"] >= 1000))
            lim = c["largest_tensor_mb"] + 64
            t.append((f"convert {k[:-7]} peak RSS ≤ largest tensor + 64 MB ({lim:.0f} MiB)", f"{c['peak_rss_mb']:.0f} MiB",
                      c["peak_rss_mb"] <= lim))
    return t


def markdown(r):
    o = ["# hfx vs transformers / CTranslate2 / ONNX Runtime", "",
         f"Made by `bench/run.sh` on {r['date_utc']} UTC. CPU: {r['cpu']['model_name']} (family {r['cpu'].get('cpu family')}, "
         f"model {r['cpu'].get('model')}, AVX-512: {r['cpu']['flags_avx512f']}), {r['cpu']['nproc']} vCPUs; "
         f"**{r['threads']} threads** for every contender; {r['rounds']} interleaved rounds after a warm-up round; "
         f"median [min–max]. Load average at start/end: {r['loadavg_start'][0]:.1f} / {r['loadavg_end'][0]:.1f}. "
         f"Scheduling: {r['boost']} (bench/run.sh boosts every contender alike).",
         "", f"**{r['machine_note']}.**", "",
         "Versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()) + ".", ""]
    t = targets(r)
    if t:
        o += ["## Targets (issue #9)", "", "| target | measured | met |", "|---|--:|---|"]
        o += [f"| {name} | {got} | {'yes' if ok else '**no**'} |" for name, got, ok in t]
        o.append("")
    if "gemm" in r:
        o += ["## fp32 GEMM peak (oneDNN `dnnl_sgemm`, NN, encoder shapes)", "", "| M×N×K | GFLOP/s |", "|---|--:|"]
        o += [f"| {k} | {f1(v['median'])} [{f1(v['min'])}–{f1(v['max'])}] |" for k, v in r["gemm"].items()]
        o += ["", "Peak used for % columns (best single run at that M): " + ", ".join(f"M={m}: {f1(v)} GFLOP/s" for m, v in r["gemm_peak"].items()), ""]
    if "encoder" in r:
        o += ["## Encoder: BERT-base shape (12×768), fp32, seq 128", "",
              "| batch | contender | ms / forward | GFLOP/s | % GEMM peak | hfx speed-up |", "|---|---|--:|--:|--:|--:|"]
        for shape, e in r["encoder"].items():
            for k, v in e.items():
                o.append(f"| {shape} | {k} | {v['median'] * 1e3:.1f} [{v['min'] * 1e3:.1f}–{v['max'] * 1e3:.1f}] | "
                         f"{f1(v['gflops'])} | {f1(v.get('pct_of_gemm_peak', float('nan')))} | "
                         + (f"{v['hfx_speedup']:.2f}×" if k != 'hfx' else '') + " |")
        o.append("")
    if "lowp" in r:
        o += ["## Encoder in low precision: BERT-base shape (12×768), seq 128 (issue #22)", "",
              "hfx int8: LoadOptions::quantize (per-channel s8 weights, per-token s8 activations, oneDNN VNNI matmul); "
              "hfx bf16: torch_dtype bfloat16 (oneDNN bf16 matmul, f32 accumulation). Peers' int8: CTranslate2 "
              "compute_type int8, ONNX Runtime quantize_dynamic (QInt8), PyTorch quantize_dynamic (nn.Linear).", "",
              "| batch | contender | ms / forward | vs hfx fp32 | hfx int8 speed-up |", "|---|---|--:|--:|--:|"]
        for shape, e in r["lowp"].items():
            for k, v in e.items():
                o.append(f"| {shape} | {k} | {v['median'] * 1e3:.1f} [{v['min'] * 1e3:.1f}–{v['max'] * 1e3:.1f}] | "
                         f"{v['speedup_vs_hfx_fp32']:.2f}× | " + (f"{v['hfx_int8_speedup']:.2f}×" if "hfx_int8_speedup" in v else "") + " |")
        o.append("")
    if "decoder" in r:
        o += ["## Decoder: GPT-2-small shape, greedy, 32-token prompt + 128 new tokens, batch 1", "",
              "| contender | tokens/s | hfx (KV cache) speed-up |", "|---|--:|--:|"]
        for k, v in r["decoder"].items():
            o.append(f"| {k} | {f1(v['median'])} [{f1(v['min'])}–{f1(v['max'])}] | "
                     + (f"{v['hfx_speedup']:.2f}×" if k != 'hfx' else '') + " |")
        o.append("")
    if "load" in r:
        ld = r["load"]
        o += [f"## Load: from_pretrained + first output (b1 s128), BertModel {ld['model_bytes'] / 1e6:.0f} MB, fresh process", "",
              "| contender:format | time to first output s | peak RSS MB | hfx speed-up vs transformers safetensors |",
              "|---|--:|--:|--:|"]
        for k, v in ld.items():
            if k == "model_bytes":
                continue
            sp = v.get("speedup_vs_transformers_safetensors")
            imp = f" (+{v['import_s']:.2f} s import)" if "import_s" in v else ""
            o.append(f"| {k} | {v['median']:.3f} [{v['min']:.3f}–{v['max']:.3f}]{imp} | {v['peak_rss_mb']:.0f} | "
                     + ('' if sp is None else f"{sp:.1f}×") + " |")
        o.append("")
    if "convert" in r:
        o += ["## Convert: checkpoint → model.safetensors + config.json (hfx_bench convert, fresh process each)", "",
              "stream = `convert_model_directory` (one tensor at a time, source pages released after each); "
              "load = `from_pretrained` + `write_model_directory`. MB/s = checkpoint bytes read / wall time, "
              "fsync of the output included. RSS in MiB.", "",
              "| conversion | MB/s | input MB | peak RSS | RSS at start | largest tensor |", "|---|--:|--:|--:|--:|--:|"]
        for k, c in r["convert"].items():
            if "median" not in c:
                continue
            o.append(f"| {k} | {f1(c['median'])} [{f1(c['min'])}–{f1(c['max'])}] | {c['input_bytes'] / 1e6:.0f} | "
                     f"{c['peak_rss_mb']:.0f} | {c.get('start_rss_mb', 0):.0f} | {c.get('largest_tensor_mb', 0):.1f} |")
        o.append("")
    if "kernels" in r:
        o += ["## Kernel microbenchmarks (Google Benchmark, median of repetitions; bench/results/kernels.json)", "",
              "| benchmark | µs | rate |", "|---|--:|--:|"]
        for k, v in r["kernels"].items():
            rate = f"{f1(v['GFLOP/s'])} GFLOP/s" if "GFLOP/s" in v else (f"{f1(v['GB/s'])} GB/s" if "GB/s" in v else "")
            o.append(f"| {k} | {f1(v['median_us'])} | {rate} |")
        o.append("")
    return "\n".join(o)


if __name__ == "__main__":
    main()
