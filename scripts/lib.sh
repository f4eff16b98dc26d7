# Shell functions the build, test and environment scripts share. Source it: . "$root/scripts/lib.sh"

# hfx_cached_venv VENV HASH BASE_PYTHON SETUP [ARGS...]
# Makes VENV a ready venv once per HASH (the caller's cache key: its pins, and whatever else the venv depends
# on). When VENV/.hfx-installed-HASH is missing: creates the venv with BASE_PYTHON (unless it exists), runs
# `SETUP VENV/bin/python ARGS...` (installs and checks), then writes the stamp. A set-up that fails leaves no
# stamp, so the next run tries again rather than trusting a half-installed venv. Call it as a plain command
# under `set -e` (as every script here runs): bash ignores -e inside a command that is tested (`|| …`, `if`).
hfx_cached_venv() {
  local venv="$1" hash="$2" base="$3" setup="$4"
  shift 4
  local stamp="$venv/.hfx-installed-$hash"
  [ -f "$stamp" ] && return 0
  echo "$(basename "$0"): creating $venv" >&2
  mkdir -p "$(dirname "$venv")"
  [ -x "$venv/bin/python" ] || "$base" -m venv "$venv"
  "$setup" "$venv/bin/python" "$@"
  touch "$stamp"
}

# hfx_file_hash FILE — the first 12 hex digits of FILE's sha256: the cache key of a venv pinned by that file.
hfx_file_hash() {
  python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest()[:12])' "$1"
}

# hfx_pip PYTHON ARGS... — pip install, quiet, its chatter on stderr (stdout carries the scripts' results).
hfx_pip() {
  local py="$1"
  shift
  "$py" -m pip install -q --disable-pip-version-check "$@" >&2
}

# hfx_layer_site PYTHON OTHER_PYTHON — makes OTHER_PYTHON's site-packages visible to PYTHON's venv through a
# .pth file (the fixture env's torch/transformers without copying or changing that env).
hfx_layer_site() {
  local site other
  site="$("$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  other="$("$2" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$other" > "$site/hfx_fixture_env.pth"
}

# hfx_ccache_env ROOT — the ccache keys every build of this checkout shares: paths relative to the folder above
# the checkout (so worktrees and clean clones hit the same objects), and the compiler CMake picks (cc / c++; a
# Python build may otherwise name g++, which ccache keys apart).
hfx_ccache_env() {
  export CC="${CC:-cc}" CXX="${CXX:-c++}"
  if command -v ccache >/dev/null 2>&1; then
    export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$1")}" CCACHE_NOHASHDIR=1
  fi
}
