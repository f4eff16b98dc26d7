#!/usr/bin/env python3
"""A small stand-in for huggingface.co, started by tests/hub_test.cc on 127.0.0.1.

Python standard library only. It serves repos described by a JSON spec with the hub's
headers (X-Repo-Commit, ETag = git blob sha1, X-Linked-Etag = sha256 and X-Linked-Size
plus a 302 to a /cdn/<sha256> URL for LFS files, X-Error-Code on 404s, 401 for private
repos without the token, a 307 relative redirect for a renamed repo), supports Range,
has fault modes, and implements the push calls (repo create, preupload, LFS batch +
PUT + verify, ndjson commit), checking every field and recording each request.

  spec = {"token": "...", "repos": {"org/name": {"private": false,
          "commits": [{"files": {"path/in/repo": "/abs/source"}, "refs": ["main"]}]}},
          "renames": {"old/name": "org/name"}}
  python3 hub_server.py SPEC.json      -> prints "PORT <hub> <cdn>" then serves until killed

Two listeners on 127.0.0.1: the hub, and a "CDN" on another port standing for the storage hosts
(signed LFS download URLs, presigned multipart part URLs). The CDN serves /cdn/ and /_lfs_part/
only and records an error for any request that carries an Authorization header. A repo with
"cdn": true redirects its LFS files there; one with "xet": true answers X-Xet-Hash /
X-Xet-Refresh-Route like a Xet-backed repo (the plain HTTP download still works, as on the hub).

GET /api/models/<id>/revision/<rev> lists a commit's files (model_info's sha and siblings).

Test control: POST /_test/faults  [{"path_contains": s, "mode": "drop|truncate|corrupt|status|slow|stall|redirect_cdn|redirect_cdn_scheme_relative|strip",
"status": 500, "headers": [...] (strip), "times": n (-1: always), "method": "GET|HEAD|PUT"}]; GET /_test/log;
POST /_test/clear_log; POST /_test/config {"multipart_threshold": bytes, "chunk_size": bytes,
"multipart_bad": "zero_chunk|text_chunk|missing_part|extra_part|no_url|size", "lfs_transfer": "xet"}:
LFS objects above the threshold get huggingface_hub's multipart upload action (part URLs on the CDN,
completion checked: part numbers, ETags, sha256 of the reassembled bytes).
"""
import base64
import hashlib
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LFS_SUFFIXES = (".safetensors", ".bin", ".h5", ".msgpack", ".ckpt")
LOCK = threading.RLock()
STATE = {"repos": {}, "renames": {}, "token": None, "faults": [], "log": [], "lfs": {}, "errors": [], "config": {},
         "parts": {}, "cdn_port": None}


def git_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def make_commit(repo, files, parent, message):
    h = hashlib.sha1()
    h.update((parent or "").encode() + message.encode())
    for p in sorted(files):
        h.update(p.encode() + b"\0" + hashlib.sha256(files[p]).digest())
    oid = h.hexdigest()
    repo["commits"][oid] = dict(files)
    return oid


def load_spec(path):
    spec = json.load(open(path))
    STATE["token"] = spec.get("token")
    STATE["renames"] = spec.get("renames", {})
    for rid, r in spec.get("repos", {}).items():
        repo = {"private": r.get("private", False), "commits": {}, "refs": {}, "prs": 0,
                "cdn": r.get("cdn", False), "xet": r.get("xet", False)}
        parent = None
        for c in r.get("commits", []):
            files = {p: open(src, "rb").read() for p, src in c["files"].items()}
            oid = make_commit(repo, files, parent, "fixture")
            for ref in c.get("refs", []):
                repo["refs"][ref] = oid
            parent = oid
        STATE["repos"][rid] = repo


def is_lfs(path):
    return path.endswith(LFS_SUFFIXES)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *a):
        pass

    # ---- helpers -------------------------------------------------------------------
    def on_cdn(self):
        return self.server.server_address[1] == STATE["cdn_port"]

    def cdn_url(self):
        return "http://127.0.0.1:%d" % STATE["cdn_port"]

    def record(self, status, extra=None):
        entry = {"method": self.command, "path": self.path, "status": status,
                 "authorization": self.headers.get("Authorization"), "range": self.headers.get("Range"),
                 "content_type": self.headers.get("Content-Type"), "accept": self.headers.get("Accept"),
                 "host": "cdn" if self.on_cdn() else "hub"}
        if extra:
            entry.update(extra)
        with LOCK:
            STATE["log"].append(entry)

    def fault(self):
        with LOCK:
            for f in STATE["faults"]:
                if f.get("times", 1) == 0:
                    continue
                if f.get("method") and f["method"] != self.command:
                    continue
                if f.get("path_contains", "") in self.path:
                    if f.get("times", 1) > 0:
                        f["times"] = f.get("times", 1) - 1
                    return f
        return None

    def reply(self, status, headers=None, body=b"", extra=None):
        if not self.path.startswith("/_test/"):
            self.record(status, extra)
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def error(self, status, code=None, message="", headers=None):
        h = dict(headers or {})
        if code:
            h["X-Error-Code"] = code
        if message:
            h["X-Error-Message"] = message
        h["Content-Type"] = "application/json"
        self.reply(status, h, json.dumps({"error": message}).encode())

    def authorized(self):
        return STATE["token"] is not None and self.headers.get("Authorization") == "Bearer " + STATE["token"]

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def bad(self, message):
        with LOCK:
            STATE["errors"].append(message)
        self.error(400, "BadRequest", message)

    # ---- file serving -----------------------------------------------------------------
    def send_bytes(self, data, base_headers):
        f = self.fault()
        if f and f["mode"] == "status":
            return self.error(f.get("status", 500), None, "injected failure")
        if f and f["mode"] == "redirect_cdn":  # the hub sends this GET on to the storage host
            return self.reply(302, {"Location": self.cdn_url() + "/cdn/" + hashlib.sha256(data).hexdigest()}, extra={"fault": "redirect_cdn"})
        if f and f["mode"] == "redirect_cdn_scheme_relative":  # the same with "//host:port/..." (no scheme)
            return self.reply(302, {"Location": self.cdn_url()[len("http:"):] + "/cdn/" + hashlib.sha256(data).hexdigest()},
                              extra={"fault": f["mode"]})
        start = 0
        status = 200
        headers = dict(base_headers)
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                return self.reply(416, {"Content-Range": "bytes */%d" % len(data)})
            status = 206
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, len(data) - 1, len(data))
        body = data[start:]
        headers["Accept-Ranges"] = "bytes"
        if f and f["mode"] == "truncate":  # a consistent but short answer
            body = body[: len(body) // 2]
        if f and f["mode"] == "corrupt":
            body = bytes(b ^ 0x5A for b in body)
        headers["Content-Length"] = str(len(body))
        self.record(status, {"fault": f["mode"] if f else None})
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        if f and f["mode"] == "stall":  # the headers, then no body byte for f["seconds"] (default 30)
            self.wfile.flush()
            time.sleep(f.get("seconds", 30))
            return
        if f and f["mode"] == "drop":  # half the body, then the connection goes away
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            import socket
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        step = 4096
        for i in range(0, len(body), step):
            self.wfile.write(body[i:i + step])
            if f and f["mode"] == "slow":
                self.wfile.flush()
                time.sleep(0.01)

    def resolve(self, repo_id, rest):
        if repo_id in STATE["renames"]:
            target = "/" + STATE["renames"][repo_id] + "/resolve/" + rest
            return self.reply(307, {"Location": target})
        repo = STATE["repos"].get(repo_id)
        if repo is None or (repo["private"] and not self.authorized()):
            if not self.headers.get("Authorization"):
                return self.error(401, "RepoNotFound", "Repository Not Found for url: " + self.path + ". Invalid username or password.")
            return self.error(404, "RepoNotFound", "Repository Not Found")
        rev_q, _, file_q = rest.partition("/")
        rev = urllib.parse.unquote(rev_q)
        filename = urllib.parse.unquote(file_q)
        commit = repo["refs"].get(rev, rev if rev in repo["commits"] else None)
        if commit is None:
            return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
        files = repo["commits"][commit]
        if filename not in files:
            return self.error(404, "EntryNotFound", filename + " does not exist on \"" + rev + "\"",
                              {"X-Repo-Commit": commit})
        data = files[filename]
        if is_lfs(filename):
            sha = hashlib.sha256(data).hexdigest()
            f = self.fault() if self.command == "HEAD" else None
            if f and f["mode"] == "status":
                return self.error(f.get("status", 500), None, "injected failure")
            host = self.cdn_url() if repo.get("cdn") else "http://" + self.headers.get("Host")
            headers = {"X-Repo-Commit": commit, "X-Linked-Etag": '"%s"' % sha,
                       "X-Linked-Size": str(len(data)), "ETag": '"%s"' % git_sha1(data),
                       "Location": "%s/cdn/%s?filename=%s" % (host, sha, urllib.parse.quote(filename))}
            if repo.get("xet"):  # what a Xet-backed file's resolve answer adds (huggingface_hub constants.py)
                headers["X-Xet-Hash"] = hashlib.sha256(b"xet" + data).hexdigest()
                headers["X-Xet-Refresh-Route"] = "/api/models/%s/xet-read-token/%s" % (repo_id, commit)
            if f and f["mode"] == "strip":
                for h in f.get("headers", []):
                    headers.pop(h, None)
            return self.reply(302, headers, b"", {"fault": f["mode"]} if f else None)
        if self.command == "HEAD":
            f = self.fault()
            if f and f["mode"] == "status":
                return self.error(f.get("status", 500), None, "injected failure")
            if f and f["mode"] == "redirect_cdn_scheme_relative":  # metadata on the redirect, the file elsewhere
                return self.reply(302, {"X-Repo-Commit": commit, "ETag": '"%s"' % git_sha1(data), "Content-Length": str(len(data)),
                                        "Location": self.cdn_url()[len("http:"):] + "/cdn/" + hashlib.sha256(data).hexdigest()},
                                  extra={"fault": f["mode"]})
        self.send_bytes(data, {"X-Repo-Commit": commit, "ETag": '"%s"' % git_sha1(data)})

    def check_cdn_request(self):
        if self.headers.get("Authorization"):  # the hub token must never leave the hub's host
            with LOCK:
                STATE["errors"].append("Authorization header sent to the CDN: %s %s" % (self.command, self.path))

    def cdn(self, sha):
        for repo in STATE["repos"].values():
            for files in repo["commits"].values():
                for data in files.values():
                    if hashlib.sha256(data).hexdigest() == sha:
                        return self.send_bytes(data, {"ETag": '"%s"' % sha})
        data = STATE["lfs"].get(sha)
        if data is not None:
            return self.send_bytes(data, {"ETag": '"%s"' % sha})
        self.error(404, None, "no such object")

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        if path == "/_test/log":
            with LOCK:
                body = json.dumps({"log": STATE["log"], "errors": STATE["errors"]}).encode()
            return self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        if self.on_cdn():
            self.check_cdn_request()
        if path.startswith("/cdn/"):
            return self.cdn(path[5:])
        if self.on_cdn():
            return self.error(404, None, "the CDN serves /cdn/ and /_lfs_part/ only")
        if path.startswith("/api/models/") and "/revision/" in path:
            repo_id, _, rev_q = path[len("/api/models/"):].partition("/revision/")
            return self.model_info(repo_id, urllib.parse.unquote(rev_q))
        if "/resolve/" in path:
            repo_id, _, rest = path[1:].partition("/resolve/")
            return self.resolve(repo_id, rest)
        self.error(404, None, "unknown path " + path)

    def model_info(self, repo_id, rev):  # huggingface_hub's model_info: {"id", "sha", "siblings": [{"rfilename"}]}
        repo = STATE["repos"].get(repo_id)
        if repo is None or (repo["private"] and not self.authorized()):
            return self.error(401 if not self.headers.get("Authorization") else 404, "RepoNotFound", "Repository Not Found")
        commit = repo["refs"].get(rev, rev if rev in repo["commits"] else None)
        if commit is None:
            return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
        body = json.dumps({"id": repo_id, "sha": commit,
                           "siblings": [{"rfilename": f} for f in sorted(repo["commits"][commit])]}).encode()
        self.reply(200, {"Content-Type": "application/json"}, body)

    # ---- push -------------------------------------------------------------------------
    def do_PUT(self):
        path = urllib.parse.urlsplit(self.path).path
        body = self.read_body()
        if self.on_cdn():
            self.check_cdn_request()
            if path.startswith("/_lfs_part/"):
                return self.put_part(path, body)
            return self.error(404, None, "unknown path")
        if not path.startswith("/_lfs/"):
            return self.error(404, None, "unknown path")
        oid = path[6:]
        if hashlib.sha256(body).hexdigest() != oid:
            return self.bad("LFS PUT body does not hash to " + oid)
        if self.headers.get("X-Test-Upload") != "1":
            return self.bad("LFS PUT lacks the header the batch answer asked for")
        with LOCK:
            STATE["lfs"][oid] = body
        self.reply(200)

    def put_part(self, path, body):
        f = self.fault()
        if f and f["mode"] == "status":
            return self.error(f.get("status", 500), None, "injected failure")
        oid, _, num = path[len("/_lfs_part/"):].partition("/")
        with LOCK:
            plan = STATE["parts"].get(oid)
            if plan is None or not num.isdigit() or not 1 <= int(num) <= plan["count"]:
                return self.bad("multipart PUT to an unknown part " + path)
            n = int(num)
            if len(body) != min(plan["chunk"], plan["size"] - (n - 1) * plan["chunk"]):
                return self.bad("multipart part %d of %s has %d bytes" % (n, oid, len(body)))
            etag = '"%s"' % hashlib.md5(body).hexdigest()
            plan["got"][n] = (body, etag)
        self.reply(200, {"ETag": etag}, b"", {"part": n, "bytes": len(body)})

    def complete_multipart(self, path, body):
        oid = path[len("/_lfs_complete/"):]
        if self.headers.get("Accept") != "application/vnd.git-lfs+json" or \
                self.headers.get("Content-Type") != "application/vnd.git-lfs+json":
            return self.bad("multipart completion: Accept/Content-Type must be application/vnd.git-lfs+json")
        try:
            payload = json.loads(body)
        except ValueError:
            return self.bad("multipart completion: body is not JSON")
        with LOCK:
            plan = STATE["parts"].get(oid)
            if plan is None or payload.get("oid") != oid:
                return self.bad("multipart completion for an unknown oid " + str(payload.get("oid")))
            parts = payload.get("parts")
            if not isinstance(parts, list) or [p.get("partNumber") for p in parts] != list(range(1, plan["count"] + 1)):
                return self.bad("multipart completion: parts must be numbered 1..%d in order: %s" % (plan["count"], json.dumps(parts)))
            data = b""
            for p in parts:
                got = plan["got"].get(p["partNumber"])
                if got is None or got[1] != p.get("etag"):
                    return self.bad("multipart completion: part %d has ETag %s, the upload answered %s" %
                                    (p["partNumber"], p.get("etag"), got and got[1]))
                data += got[0]
            if hashlib.sha256(data).hexdigest() != oid or len(data) != plan["size"]:
                return self.bad("multipart completion: the reassembled parts do not hash to " + oid)
            STATE["lfs"][oid] = data
        self.reply(200, {}, b"", {"parts": len(parts)})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path, urllib.parse.parse_qs(url.query)
        body = self.read_body()
        if path == "/_test/faults":
            with LOCK:
                STATE["faults"] = json.loads(body)
            return self.reply(200)
        if path == "/_test/clear_log":
            with LOCK:
                STATE["log"] = []
                STATE["errors"] = []
            return self.reply(200)
        if path == "/_test/config":
            with LOCK:
                STATE["config"] = json.loads(body)
            return self.reply(200)
        if self.on_cdn():
            return self.error(404, None, "the CDN serves /cdn/ and /_lfs_part/ only")
        if path.startswith("/_lfs_complete/"):  # huggingface_hub posts it without the token
            return self.complete_multipart(path, body)
        if not self.authorized():
            return self.error(401, None, "Invalid username or password.")
        host = "http://" + self.headers.get("Host")
        try:
            payload = None if "/commit/" in path else json.loads(body)
        except ValueError:
            return self.bad("body is not JSON")
        if path == "/api/repos/create":
            if self.headers.get("Content-Type") != "application/json":
                return self.bad("create: Content-Type")
            # huggingface_hub leaves out "private" and "type" when they are the defaults.
            if not isinstance(payload.get("name"), str) or payload.get("type", "model") != "model" or \
                    not isinstance(payload.get("private", False), bool):
                return self.bad("create: bad payload " + json.dumps(payload))
            rid = (payload["organization"] + "/" if payload.get("organization") else "") + payload["name"]
            with LOCK:
                if rid in STATE["repos"]:
                    return self.error(409, None, "You already created this model repo", {"Content-Type": "application/json"})
                repo = {"private": payload.get("private", False), "commits": {}, "refs": {}, "prs": 0}
                oid = make_commit(repo, {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"}, None, "initial commit")
                repo["refs"]["main"] = oid
                STATE["repos"][rid] = repo
            return self.reply(200, {"Content-Type": "application/json"}, json.dumps({"url": host + "/" + rid}).encode(),
                              {"payload": payload})
        if path.endswith(".git/info/lfs/objects/batch"):
            rid = path[1:-len(".git/info/lfs/objects/batch")]
            if self.headers.get("Accept") != "application/vnd.git-lfs+json" or \
                    self.headers.get("Content-Type") != "application/vnd.git-lfs+json":
                return self.bad("LFS batch: Accept/Content-Type must be application/vnd.git-lfs+json")
            if payload.get("operation") != "upload" or payload.get("hash_algo") != "sha256" or "basic" not in payload.get("transfers", []):
                return self.bad("LFS batch: bad payload " + json.dumps(payload))
            objects = []
            cfg = STATE["config"]
            transfer = "basic"
            for o in payload.get("objects", []):
                if not isinstance(o.get("oid"), str) or len(o["oid"]) != 64 or not isinstance(o.get("size"), int):
                    return self.bad("LFS batch: bad object " + json.dumps(o))
                entry = {"oid": o["oid"], "size": o["size"]}
                if cfg.get("lfs_transfer") == "xet":  # a Xet answer: no LFS actions to follow
                    objects.append(entry)
                    continue
                if o["oid"] not in STATE["lfs"]:
                    entry["actions"] = {"upload": {"href": host + "/_lfs/" + o["oid"], "header": {"X-Test-Upload": "1"}},
                                        "verify": {"href": host + "/" + rid + ".git/info/lfs/objects/verify"}}
                    if "multipart_threshold" in cfg and o["size"] > cfg["multipart_threshold"] and "multipart" in payload["transfers"]:
                        transfer = "multipart"
                        if cfg.get("multipart_bad") == "size":  # a plan for another size than asked about
                            entry["size"] = o["size"] + cfg["chunk_size"]
                        entry["actions"]["upload"] = self.multipart_action(o["oid"], entry["size"], host, cfg)
                objects.append(entry)
            if cfg.get("lfs_transfer"):
                transfer = cfg["lfs_transfer"]
            return self.reply(200, {"Content-Type": "application/vnd.git-lfs+json"},
                              json.dumps({"transfer": transfer, "objects": objects}).encode(), {"payload": payload})
        if path.endswith(".git/info/lfs/objects/verify"):
            data = STATE["lfs"].get(payload.get("oid"))
            if data is None or len(data) != payload.get("size"):
                return self.bad("LFS verify: object not uploaded")
            return self.reply(200)
        if path.startswith("/api/models/") and "/preupload/" in path:
            rid, _, rev = path[len("/api/models/"):].partition("/preupload/")
            if rid not in STATE["repos"]:
                return self.error(404, "RepoNotFound", "Repository Not Found")
            files = []
            for f in payload.get("files", []):
                if not isinstance(f.get("path"), str) or not isinstance(f.get("size"), int) or not isinstance(f.get("sample"), str):
                    return self.bad("preupload: bad entry " + json.dumps(f))
                if len(base64.b64decode(f["sample"])) != min(512, f["size"]):
                    return self.bad("preupload: sample of " + f["path"] + " is not the first 512 bytes")
                files.append({"path": f["path"], "uploadMode": "lfs" if is_lfs(f["path"]) else "regular",
                              "shouldIgnore": False, "oid": None})
            return self.reply(200, {"Content-Type": "application/json"}, json.dumps({"files": files}).encode(),
                              {"payload": payload})
        if path.startswith("/api/models/") and "/commit/" in path:
            return self.commit(path, query, body, host)
        self.error(404, None, "unknown path " + path)

    def multipart_action(self, oid, size, host, cfg):
        chunk = cfg["chunk_size"]
        count = (size + chunk - 1) // chunk
        with LOCK:
            STATE["parts"][oid] = {"size": size, "chunk": chunk, "count": count, "got": {}}
        header = {"chunk_size": str(chunk)}
        for n in range(1, count + 1):  # presigned part URLs on the storage host
            header["%05d" % n] = "%s/_lfs_part/%s/%d?X-Amz-Signature=%s" % (self.cdn_url(), oid, n, hashlib.md5(b"%d" % n).hexdigest())
        bad = cfg.get("multipart_bad")
        if bad == "zero_chunk":
            header["chunk_size"] = "0"
        elif bad == "text_chunk":
            header["chunk_size"] = "lots"
        elif bad == "missing_part":
            del header["%05d" % count]
        elif bad == "extra_part":
            header["%05d" % (count + 1)] = header["00001"]
        elif bad == "no_url":
            header["00001"] = "not a url"
        return {"href": host + "/_lfs_complete/" + oid, "header": header}

    def commit(self, path, query, body, host):
        rid, _, rev_q = path[len("/api/models/"):].partition("/commit/")
        rev = urllib.parse.unquote(rev_q)
        if self.headers.get("Content-Type") != "application/x-ndjson":
            return self.bad("commit: Content-Type must be application/x-ndjson")
        repo = STATE["repos"].get(rid)
        if repo is None:
            return self.error(404, "RepoNotFound", "Repository Not Found")
        lines = [json.loads(line) for line in body.decode().split("\n") if line.strip()]
        if not lines or lines[0].get("key") != "header" or not lines[0]["value"].get("summary"):
            return self.bad("commit: first line must be the header with a summary")
        create_pr = query.get("create_pr") == ["1"]
        parent = repo["refs"].get(rev)
        if parent is None:
            return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
        files = dict(repo["commits"][parent])
        for line in lines[1:]:
            v = line.get("value", {})
            if line.get("key") == "file":
                if v.get("encoding") != "base64":
                    return self.bad("commit: file without base64 encoding")
                files[v["path"]] = base64.b64decode(v["content"])
            elif line.get("key") == "lfsFile":
                data = STATE["lfs"].get(v.get("oid"))
                if v.get("algo") != "sha256" or data is None or len(data) != v.get("size"):
                    return self.bad("commit: lfsFile %s was not uploaded first" % v.get("path"))
                files[v["path"]] = data
            else:
                return self.bad("commit: unknown key " + str(line.get("key")))
        with LOCK:
            oid = make_commit(repo, files, parent, lines[0]["value"]["summary"])
            answer = {"commitUrl": host + "/" + rid + "/commit/" + oid, "commitOid": oid, "success": True}
            if create_pr:
                repo["prs"] += 1
                repo["refs"]["refs/pr/%d" % repo["prs"]] = oid
                answer["pullRequestUrl"] = host + "/" + rid + "/discussions/%d" % repo["prs"]
            else:
                repo["refs"][rev] = oid
        self.reply(200, {"Content-Type": "application/json"}, json.dumps(answer).encode(),
                   {"summary": lines[0]["value"]["summary"], "create_pr": create_pr,
                    "keys": [(ln["key"], ln["value"].get("path")) for ln in lines[1:]]})


def exit_with_parent():
    import os
    parent = os.getppid()
    while os.getppid() == parent:  # the test process died without stopping us
        time.sleep(0.5)
    os._exit(0)


def main():
    load_spec(sys.argv[1])
    threading.Thread(target=exit_with_parent, daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    cdn = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    cdn.daemon_threads = True
    STATE["cdn_port"] = cdn.server_address[1]
    threading.Thread(target=cdn.serve_forever, daemon=True).start()
    print("PORT %d %d" % (server.server_address[1], cdn.server_address[1]), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
