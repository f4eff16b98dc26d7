#!/usr/bin/env python3
"""Issue 24: each defect's test must fail when its fix is taken out. For each defect: undo the fix in a
scratch worktree (one substitution), rebuild hfx_tests and the CLI, run the defect's test, expect failure, restore.

Usage: tools/issue24_revert_check.py SCRATCH_CHECKOUT [DEFECT_NUMBER ...]
  SCRATCH_CHECKOUT: a separate checkout of main (git worktree add --detach ...) built with scripts/build.sh release;
  its files are edited and restored. Prints one verdict per defect. (A single-test gtest run prints "1 test from",
  not "tests ran": a passing single test is reported as "NO TEST MATCHED"; read it as "passes without the fix".)"""
import subprocess, sys, os
WT = sys.argv[1]
B = os.path.join(WT, "build")
cases = [
 ("1 nested JSON", "src/core/json.cc", "if (static_cast<int>(stack_.size()) >= limits_.max_depth) {", "if (false) {", "BoundedJson.NestingBombsInEveryModelFile", 300),
 ("2 token to another host", "src/hub/http.cc", '  if (location.rfind("//", 0) == 0) return true;\n  const std::size_t colon', "  const std::size_t colon", "Hub.SchemeRelativeRedirectsNeverCarryTheToken", 300),
 ("3 whole-folder atomic save", "src/pretrained/folder_swap.h", "bool supported() const { return supported_; }", "bool supported() const { return false; }", "KillSave.*", 900),
 ("4 FIFO hang", "src/core/file.cc", "O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY", "O_RDONLY | O_CLOEXEC | O_NOCTTY", "SafeOpen.FifoIsRefusedNeverAwaited", 120),
 ("6 allocation before validation", "src/pretrained/load.cc", "detail::check_skeleton_fits(*model, *src, where);", ";", "ValidateBeforeAllocating.HostileConfigSizesAreRefusedEarly", 300),
 ("7 regex gives up silently", "src/core/regex.cc", "    if (rc < 0) gave_up(rc, s.size());\n    opts = PCRE2_NO_UTF_CHECK;", "    if (rc < 0) break;\n    opts = PCRE2_NO_UTF_CHECK;", "TokenizerHostile.RegexThatGivesUpIsAnErrorNamingThePattern", 300),
 ("8 staged files left", "src/pretrained/folder_swap.cc", "    fs::remove_all(staging_, ec);\n  }\n  if (lock_fd_ >= 0)", "  }\n  if (lock_fd_ >= 0)", "Save.FailedSaveKeepsThePreviousCheckpointAndLeavesNothing", 300),
 ("9 added-token ids out of range", "src/tokenize/fields.cc", "if (id < 0 || id > int64_t{UINT32_MAX})", "if (false)", "TokenizerHostile.AddedTokenIdsOutsideU32AreRefusedAtLoad", 300),
 ("10 config values", "include/hfx/config.h", "    if (!v->is_number_integer())\n      throw_error", "    if (false)\n      throw_error", "ValidateBeforeAllocating.ConfigIntegerFields", 300),
]
only = sys.argv[2:] 
results = []
for name, f, a, b, filt, tmo in cases:
    if only and name.split()[0] not in only: continue
    p = os.path.join(WT, f)
    s = open(p).read()
    if a not in s:
        results.append((name, "SITE NOT FOUND")); continue
    open(p, "w").write(s.replace(a, b, 1))
    try:
        r = subprocess.run(["cmake", "--build", B, "--target", "hfx_tests", "hfx_cli"], capture_output=True, text=True)
        if r.returncode != 0:
            results.append((name, "BUILD FAILED: " + r.stdout[-800:])); continue
        env = dict(os.environ, HFX_KILL_SAVES=os.environ.get("HFX_KILL_SAVES", "150"))
        try:
            t = subprocess.run([os.path.join(B, "tests/hfx_tests"), "--gtest_filter=" + filt], capture_output=True, text=True, timeout=tmo, env=env, cwd=os.path.join(B, "tests"))
            ran = "tests ran" in t.stdout and "0 tests" not in t.stdout.split("tests ran")[0][-12:]
            verdict = ("FAILS without the fix (rc %d)" % t.returncode) if t.returncode != 0 else "PASSES without the fix (!)"
            if not ran and t.returncode == 0: verdict = "NO TEST MATCHED " + filt
            results.append((name, verdict + " :: " + filt))
        except subprocess.TimeoutExpired:
            results.append((name, "FAILS without the fix (hung past %d s) :: %s" % (tmo, filt)))
    finally:
        open(p, "w").write(s)
    print(results[-1], flush=True)
print("\n".join("%s: %s" % r for r in results))
