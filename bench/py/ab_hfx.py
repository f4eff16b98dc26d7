"""A/B: two hfx_bench binaries (old, new) on the same models, interleaved round by round (serve protocol).

Usage: bench/py/ab_hfx.py OLD_HFX_BENCH NEW_HFX_BENCH WORK [ROUNDS]  (WORK: bench/.work from bench/run.sh).
Used for issue 17: the restructure against the commit before it (bench/results/ab_restructure.json).
"""
import statistics, subprocess, sys, json
old, new, work = sys.argv[1], sys.argv[2], sys.argv[3]
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 7
def start(b):
    p = subprocess.Popen([b, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    return p
def ask(p, line):
    p.stdin.write(line + "\n"); p.stdin.flush()
    return p.stdout.readline().strip()
procs = {"old": start(old), "new": start(new)}
for k, p in procs.items():
    assert ask(p, f"enc {work}/bert") == "ok", k
    assert ask(p, f"dec {work}/gpt2") == "ok", k
    ask(p, "encoder 1 128 1"); ask(p, "decode cache 32 16")  # warm-up
res = {k: {"b1s128_ms": [], "b8s128_ms": [], "decode_tok_s": []} for k in procs}
for r in range(rounds):
    order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
    for k in order:
        p = procs[k]
        res[k]["b1s128_ms"].append(1000 * float(ask(p, "encoder 1 128 3")))
        res[k]["b8s128_ms"].append(1000 * float(ask(p, "encoder 8 128 1")))
        res[k]["decode_tok_s"].append(128 / float(ask(p, "decode cache 32 128")))
for p in procs.values():
    ask(p, "quit") if False else None
    p.stdin.close(); p.wait(timeout=30)
out = {}
for k in res:
    out[k] = {m: {"median": statistics.median(v), "min": min(v), "max": max(v)} for m, v in res[k].items()}
print(json.dumps(out, indent=1))
for m in ["b1s128_ms", "b8s128_ms", "decode_tok_s"]:
    o, n = out["old"][m]["median"], out["new"][m]["median"]
    ratio = (o / n) if m.endswith("_ms") else (n / o)
    print(f"{m}: old {o:.1f}  new {n:.1f}  new speed relative to old: {ratio:.3f}x")
