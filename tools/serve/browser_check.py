"""Drives the page `hfx serve` answers at GET / in a real browser: Debian's headless chromium through its
chromedriver, with the pinned Selenium client (tools/serve/requirements.txt).

usage: browser_check.py BASE_URL {embedding|classifier|generator} OUT.json

embedding: types three texts, presses Run, reads the similarity matrix the page draws and compares it with the
cosine similarities of POST /embed's normalized embeddings (3 decimals, as the page shows them); classifier: reads
each text's label scores and checks them against POST /predict; generator: presses Run and waits for the streamed
completion to end (the button comes back), checking that text arrived and no error was shown. Also checks the
browser console for errors (a Content-Security-Policy refusal would show there). Writes what it saw as JSON;
exit 0 when every check held.
"""
import json
import os
import sys
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

TEXTS = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby."]


def post(base: str, path: str, body: dict):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def browser() -> webdriver.Chrome:
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not look for a driver online
    opts = Options()
    opts.binary_location = os.environ.get("HFX_CHROMIUM", "/usr/bin/chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(os.environ.get("HFX_CHROMEDRIVER", "/usr/bin/chromedriver")), options=opts)


def main() -> int:
    base, kind, out = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    result: dict = {"kind": kind, "ok": False}
    d = browser()
    try:
        d.set_page_load_timeout(60)
        d.get(base + "/")
        wait = WebDriverWait(d, 60)
        wait.until(lambda drv: kind in drv.find_element(By.ID, "model").text)
        result["model_line"] = d.find_element(By.ID, "model").text
        if kind != "generator":
            area = d.find_element(By.ID, "texts")
            area.clear()
            area.send_keys("\n".join(TEXTS))
        d.find_element(By.ID, "run").click()
        wait.until(lambda drv: drv.find_element(By.ID, "run").is_enabled() and drv.find_element(By.ID, "out").text)
        errors = d.find_elements(By.CSS_SELECTOR, "#out .error")
        result["errors"] = [e.text for e in errors]
        if kind == "embedding":
            rows = d.find_elements(By.CSS_SELECTOR, "#out table tr")[1:]
            shown = [[float(c.text) for c in r.find_elements(By.TAG_NAME, "td")] for r in rows]
            emb = post(base, "/embed", {"inputs": TEXTS, "normalize": True, "truncate": True})
            want = [[round(sum(x * y for x, y in zip(a, b)), 3) for b in emb] for a in emb]
            result["shown"], result["want"] = shown, want
            good = len(shown) == 3 and all(abs(shown[i][j] - want[i][j]) <= 1.5e-3 for i in range(3) for j in range(3))
        elif kind == "classifier":
            header = [c.text for c in d.find_elements(By.CSS_SELECTOR, "#out table tr:first-child th")][1:]
            rows = d.find_elements(By.CSS_SELECTOR, "#out table tr")[1:]
            shown = [[float(c.text) for c in r.find_elements(By.TAG_NAME, "td")] for r in rows]
            preds = post(base, "/predict", {"inputs": [[t] for t in TEXTS], "truncate": True})
            want = [[round(next(p["score"] for p in pr if p["label"] == lab), 4) for lab in header] for pr in preds]
            result["labels"], result["shown"], result["want"] = header, shown, want
            good = len(shown) == 3 and all(abs(shown[i][j] - want[i][j]) <= 1.5e-4 for i in range(3) for j in range(len(header)))
        else:
            text = d.find_element(By.CSS_SELECTOR, "#out pre").text
            result["text"] = text
            good = text.startswith("Once upon a time") and len(text) > len("Once upon a time")
        console = [e for e in d.get_log("browser") if e.get("level") == "SEVERE"]
        result["console_errors"] = [e.get("message") for e in console]
        result["ok"] = bool(good and not errors and not console)
    finally:
        d.quit()
        with open(out, "w") as f:
            json.dump(result, f, indent=1)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
