// Helpers shared by the tests: temp dirs, fixture paths, error expectations.
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "hfx/error.h"
#include "hfx/io.h"
#include "hfx/model.h"

namespace hfx::testing {

// n values from N(0, scale^2), the same for a given seed (the kernel and quantization tests' inputs).
inline std::vector<float> randv(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = d(g);
  return v;
}

inline std::filesystem::path source_dir() { return HFX_SOURCE_DIR; }
inline std::filesystem::path fixtures_dir() { return source_dir() / "tests" / "fixtures"; }

// A fresh directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hfx-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Copies the regular files of `from` (not subfolders) into `to`, creating it.
inline void copy_dir(const std::filesystem::path& from, const std::filesystem::path& to) {
  namespace fs = std::filesystem;
  fs::create_directories(to);
  for (const auto& f : fs::directory_iterator(from))
    if (f.is_regular_file()) fs::copy_file(f.path(), to / f.path().filename(), fs::copy_options::overwrite_existing);
}

// Runs f, expects an hfx::Error of `kind` whose text contains every needle.
template <class F>
void expect_error(F&& f, ErrorKind kind, std::initializer_list<std::string> needles) {
  try {
    f();
    ADD_FAILURE() << "expected hfx::Error of kind " << to_string(kind);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << "'" << n << "' not in: " << e.what();
  }
}

// A fixture's inputs.safetensors as ModelInputs (every input name the
// fixtures use), asking for hidden states and attentions unless told not to.
inline ModelInputs read_fixture_inputs(const std::filesystem::path& file, bool all_outputs = true) {
  auto src = open_safetensors(file.string());
  ModelInputs in;
  for (const auto& e : src->entries()) {
    Tensor t = src->get(e.name);
    if (e.name == "input_ids") in.input_ids = t;
    else if (e.name == "attention_mask") in.attention_mask = t;
    else if (e.name == "token_type_ids") in.token_type_ids = t;
    else if (e.name == "position_ids") in.position_ids = t;
    else if (e.name == "mc_token_ids") in.mc_token_ids = t;
    else if (e.name == "decoder_input_ids") in.decoder_input_ids = t;
    else if (e.name == "decoder_attention_mask") in.decoder_attention_mask = t;
    else if (e.name == "langs") in.langs = t;
    else if (e.name == "perm_mask") in.perm_mask = t;
    else if (e.name == "target_mapping") in.target_mapping = t;
    else if (e.name.rfind("mems.", 0) == 0) {
      const auto i = static_cast<std::size_t>(std::stoul(e.name.substr(5)));
      if (in.mems.size() <= i) in.mems.resize(i + 1);
      in.mems[i] = t;
    }
    else ADD_FAILURE() << "unhandled fixture input " << e.name << " in " << file;
  }
  in.output_hidden_states = all_outputs;
  in.output_attentions = all_outputs;
  return in;
}

// ---- comparing with what the real transformers produced --------------------
// The one fp32 parity policy (README "Parity"): 1e-5 absolute; for an output
// whose magnitude (max |x|) exceeds 5 the budget is 2e-6 of that magnitude
// (float32 accumulation over a GEMM is ~1e-6 relative, in the reference as much
// as here).
inline double parity_budget(const Tensor& want) {
  return std::max(1e-5, 2e-6 * max_abs_diff(want, Tensor::zeros(want.dtype(), want.shape())));
}

// One hfx output against the reference's: same shape, within parity_budget.
inline void expect_close_to_reference(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  EXPECT_LE(max_abs_diff(got, want), parity_budget(want)) << what;
}

// Every output the reference recorded (a fixture's outputs.safetensors or a
// file like it): present in `out` under its name, same shape, within
// parity_budget. `what` names the case in failure messages.
inline void expect_outputs_match_reference(const Outputs& out, const TensorSource& ref, const std::string& what) {
  ASSERT_FALSE(ref.entries().empty()) << what << ": the reference has no outputs";
  for (const auto& e : ref.entries()) {
    ASSERT_TRUE(out.has(e.name)) << what << ": hfx has no output " << e.name;
    expect_close_to_reference(out.get(e.name), ref.get(e.name), what + " " + e.name);
  }
}
inline void expect_outputs_match_reference(const Outputs& out, const std::filesystem::path& ref_file, const std::string& what) {
  expect_outputs_match_reference(out, *open_safetensors(ref_file.string()), what);
}

// f16/bf16 weights: the budget is the reference's own deviation between its
// f32 run (`ref32`) and its run in that dtype (`ref_dtype`), at least 1e-5.
// hfx in that dtype must be at least as close to the f32 truth as the
// reference is, and no farther from the reference's own run than twice that.
inline void expect_half_outputs_match_reference(const Outputs& out, const TensorSource& ref_dtype, const TensorSource& ref32,
                                                const std::string& what) {
  ASSERT_FALSE(ref_dtype.entries().empty()) << what << ": the reference has no outputs";
  for (const auto& e : ref_dtype.entries()) {
    ASSERT_TRUE(out.has(e.name)) << what << ": hfx has no output " << e.name;
    const Tensor want32 = ref32.get(e.name), want = ref_dtype.get(e.name);
    const double budget = std::max(max_abs_diff(want, want32), 1e-5);
    EXPECT_LE(max_abs_diff(out.get(e.name), want32), budget) << what << " " << e.name;
    EXPECT_LE(max_abs_diff(out.get(e.name), want), 2 * budget) << what << " " << e.name;
  }
}

}  // namespace hfx::testing

#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace hfx::testing {

// The hfx command line, run as a user would: exit status and stdout+stderr.
struct CliRun {
  int status;
  std::string out;
};
inline CliRun run_cli(const std::string& args) {
  std::string cmd = std::string(HFX_CLI_PATH) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// A shell command run with its stdout and stderr on a pseudo-terminal (forkpty), as in a user's terminal:
// what draws only on a TTY (progress bars) draws. Exit status and everything written to the terminal.
inline CliRun run_in_tty(const std::string& command) {
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) return {-1, "forkpty failed"};
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(master, buf, sizeof buf);
    if (n > 0) out.append(buf, static_cast<std::size_t>(n));
    else if (n < 0 && errno == EINTR) continue;
    else break;  // EIO once the child side is closed
  }
  close(master);
  int st = 0;
  waitpid(pid, &st, 0);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}
inline CliRun run_cli_tty(const std::string& args, const std::string& env = "") {
  return run_in_tty(env + (env.empty() ? "" : " ") + std::string(HFX_CLI_PATH) + " " + args);
}

// One "DIR REF FRAMEWORK" job for check_written_batch.
struct WrittenCheck {
  std::filesystem::path dir, ref;
  std::string framework;  // "pt", "tf", "flax", ...
};

// Loads every `dir` in the real framework (tools/fixtures/check_written.py, one
// Python process for all: TF and jax start once) and compares its outputs with
// the fixture case `ref`; skips when the pinned venv is missing.
inline void check_written_batch(const std::vector<WrittenCheck>& jobs) {
  const std::filesystem::path py = source_dir() / "tools/fixtures/.venv/bin/python";
  if (!std::filesystem::exists(py)) GTEST_SKIP() << "pinned Python env missing (tools/fixtures/env.sh creates it; scripts/test.sh runs it)";
  TempDir work;
  std::string batch;
  for (const auto& j : jobs) batch += j.dir.string() + " " + j.ref.string() + " " + j.framework + "\n";
  write_bytes(work.file("batch.txt"), batch);
  const std::string cmd = py.string() + " " + (source_dir() / "tools/fixtures/check_written.py").string() + " --batch " +
                          work.file("batch.txt") + " > " + work.file("check.log") + " 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << read_text_file(work.file("check.log"));
}

// The same for one directory.
inline void check_with_transformers(const std::filesystem::path& dir, const std::filesystem::path& ref, const char* framework) {
  check_written_batch({{dir, ref, framework}});
}

}  // namespace hfx::testing
