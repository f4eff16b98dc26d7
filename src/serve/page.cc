// GET /: a small self-contained page to try the served model in a browser (no external script, style or font;
// the server's Content-Security-Policy allows nothing from another origin). It reads GET /info to learn what the model
// is, then: an embedding model shows the cosine-similarity matrix of the texts typed (POST /embed, normalized),
// a classifier the label scores of each text (POST /predict), a cross-encoder the scores of each text against a
// query (POST /rerank), a generator the completion streamed as it comes (POST /v1/completions, stream: true).
// With --api-key the page asks for the key (when /info answers 401) and sends it as a Bearer token.
#include "serve/page.h"

namespace hfx::serve {

const char* page_html() {
  return R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hfx serve</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.3rem; margin-bottom: .2rem; }
#model { color: #666; margin-bottom: 1rem; }
textarea, input { width: 100%; box-sizing: border-box; font: inherit; padding: .4rem; }
textarea { min-height: 8rem; }
button { font: inherit; padding: .35rem 1rem; margin: .6rem 0; }
table { border-collapse: collapse; margin-top: .8rem; }
td, th { border: 1px solid #ccc; padding: .25rem .5rem; text-align: right; }
th { background: #f4f4f4; font-weight: normal; text-align: left; max-width: 18rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#out pre { white-space: pre-wrap; background: #f7f7f7; padding: .6rem; }
.error { color: #b00020; }
.hidden { display: none; }
</style>
</head>
<body>
<h1>hfx serve</h1>
<div id="model">loading /info …</div>
<div id="keyrow" class="hidden"><label>API key <input id="key" type="password" autocomplete="off"></label></div>
<div id="queryrow" class="hidden"><label>Query <input id="query" value="What is the capital of France?"></label></div>
<label id="textslabel" for="texts">Texts, one per line</label>
<textarea id="texts">A man is eating food.
A man is eating a piece of bread.
The girl is carrying a baby.
A man is riding a horse.</textarea>
<div id="genrow" class="hidden"><label>Max tokens <input id="maxtokens" type="number" value="32" min="1"></label></div>
<button id="run">Run</button>
<div id="out"></div>
<script>
"use strict";
let kind = null;
const $ = (id) => document.getElementById(id);

function headers() {
  const h = { "Content-Type": "application/json" };
  const k = $("key").value;
  if (k) h["Authorization"] = "Bearer " + k;
  return h;
}

function lines() {
  return $("texts").value.split("\n").map((s) => s.trim()).filter((s) => s.length > 0);
}

function cell(tag, text) {
  const c = document.createElement(tag);
  c.textContent = text;
  c.title = text;
  return c;
}

function table(rowNames, colNames, value) {
  const t = document.createElement("table");
  const head = document.createElement("tr");
  head.appendChild(cell("th", ""));
  colNames.forEach((c) => head.appendChild(cell("th", c)));
  t.appendChild(head);
  rowNames.forEach((r, i) => {
    const tr = document.createElement("tr");
    tr.appendChild(cell("th", r));
    colNames.forEach((_, j) => tr.appendChild(cell("td", value(i, j))));
    t.appendChild(tr);
  });
  return t;
}

async function post(path, body) {
  const r = await fetch(path, { method: "POST", headers: headers(), body: JSON.stringify(body) });
  if (!r.ok) {
    let msg = r.status + " " + r.statusText;
    try { const e = await r.json(); msg += ": " + (e.error || e.message); } catch (_) {}
    throw new Error(msg);
  }
  return r;
}

async function embed(out) {
  const texts = lines();
  const rows = await (await post("/embed", { inputs: texts, normalize: true, truncate: true })).json();
  const dot = (a, b) => a.reduce((s, x, k) => s + x * b[k], 0);
  out.appendChild(table(texts, texts, (i, j) => dot(rows[i], rows[j]).toFixed(3)));
}

async function predict(out) {
  const texts = lines();
  const res = await (await post("/predict", { inputs: texts.map((t) => [t]), truncate: true })).json();
  const labels = res[0].map((p) => p.label).sort();
  out.appendChild(table(texts, labels, (i, j) => res[i].find((p) => p.label === labels[j]).score.toFixed(4)));
}

async function rerank(out) {
  const texts = lines();
  const ranks = await (await post("/rerank", { query: $("query").value, texts: texts, truncate: true })).json();
  out.appendChild(table(ranks.map((r) => texts[r.index]), ["score"], (i) => ranks[i].score.toFixed(4)));
}

async function generate(out) {
  const pre = document.createElement("pre");
  pre.textContent = $("texts").value;
  out.appendChild(pre);
  const r = await post("/v1/completions", { prompt: $("texts").value, max_tokens: Number($("maxtokens").value), stream: true });
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let at;
    while ((at = buf.indexOf("\n\n")) >= 0) {
      const event = buf.slice(0, at);
      buf = buf.slice(at + 2);
      if (!event.startsWith("data: ")) continue;
      const data = event.slice(6);
      if (data === "[DONE]") return;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      pre.textContent += chunk.choices[0].text;
    }
  }
}

$("run").addEventListener("click", async () => {
  const out = $("out");
  out.textContent = "";
  if (!kind) return;
  $("run").disabled = true;
  try {
    await ({ embedding: embed, classifier: predict, reranker: rerank, generator: generate })[kind](out);
  } catch (e) {
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = e.message;
    out.appendChild(p);
  } finally {
    $("run").disabled = false;
  }
});

async function init() {
  const r = await fetch("/info", { headers: headers() });
  if (r.status === 401) {
    $("model").textContent = "this server needs an API key";
    $("keyrow").classList.remove("hidden");
    return;
  }
  const info = await r.json();
  kind = Object.keys(info.model_type)[0];
  $("model").textContent = info.model_id + " — " + kind + ", up to " + info.max_input_length + " tokens per input";
  if (kind === "reranker") $("queryrow").classList.remove("hidden");
  if (kind === "generator") {
    $("genrow").classList.remove("hidden");
    $("textslabel").textContent = "Prompt";
    $("texts").value = "Once upon a time";
  }
}
$("key").addEventListener("change", init);
init();
</script>
</body>
</html>
)HTML";
}

}  // namespace hfx::serve
