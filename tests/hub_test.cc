// The hub: downloads into the huggingface_hub cache layout, faults, offline mode,
// revisions, push_to_hub — against tests/hub_server.py, a real HTTP server this
// file starts on 127.0.0.1 (ephemeral port) and stops. Nothing else is contacted:
// HF_ENDPOINT points at the server and proxies are cleared.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>

#include "hfx/auto.h"
#include "hfx/hub.h"
#include "hfx/hub_files.h"
#include "hfx/model.h"
#include "hfx/save.h"
#include "hfx/sentence.h"
#include "hfx/tokenizer.h"
#include "hub/http.h"
#include "hub/protocol.h"
#include "fifo_guard.h"
#include "test_util.h"

extern char** environ;

namespace hfx {
namespace {

namespace fs = std::filesystem;
using hfx::testing::expect_error;
using hfx::testing::fixtures_dir;
using hfx::testing::TempDir;

const char* kRepo = "hfx-test/tiny-bert";
const char* kToken = "hf_hfx_test_token";

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::string venv_python() {
  const fs::path p = hfx::testing::source_dir() / "tools/fixtures/.venv/bin/python";
  std::error_code ec;
  return fs::exists(p, ec) ? p.string() : std::string();
}

struct Shell {
  int status;
  std::string out;
};
Shell shell(const std::string& cmd) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// tests/hub_server.py serving the fixture repos; killed in the destructor.
class HubServer {
 public:
  explicit HubServer(const fs::path& workdir) {
    const fs::path bert = fixtures_dir() / "bert/tiny/BertModel";
    const fs::path mlm = fixtures_dir() / "bert/tiny/BertForMaskedLM";
    json spec = {{"token", kToken}, {"renames", {{"old-org/tiny-bert", kRepo}}}};
    spec["repos"][kRepo]["commits"] = json::array(
        {{{"files", {{"config.json", (bert / "fp16/config.json").string()}, {"model.safetensors", (bert / "fp16/model.safetensors").string()}}},
          {"refs", {"v1.0"}}},
         {{"files", {{"config.json", (bert / "config.json").string()}, {"model.safetensors", (bert / "model.safetensors").string()},
                     {"tf_model.h5", (bert / "tf_model.h5").string()}, {"flax_model.msgpack", (bert / "flax_model.msgpack").string()}}},
          {"refs", {"main"}}}});
    json sharded = json::object();
    for (const auto& e : fs::directory_iterator(mlm / "sharded_safetensors")) sharded[e.path().filename().string()] = e.path().string();
    spec["repos"]["hfx-test/tiny-bert-sharded"]["commits"] = json::array({{{"files", sharded}, {"refs", {"main"}}}});
    spec["repos"]["hfx-test/bin-only"]["commits"] = json::array(
        {{{"files", {{"config.json", (mlm / "config.json").string()}, {"pytorch_model.bin", (mlm / "pytorch_model.bin").string()}}}, {"refs", {"main"}}}});
    spec["repos"]["hfx-test/private-bert"] = {{"private", true},
                                              {"commits", json::array({{{"files", {{"config.json", (bert / "config.json").string()}}}, {"refs", {"main"}}}})}};
    // LFS files on a CDN (the server's second listener, another port), and a Xet-backed repo.
    const json bert_files = {{"config.json", (bert / "config.json").string()}, {"model.safetensors", (bert / "model.safetensors").string()}};
    spec["repos"]["hfx-test/private-cdn"] = {{"private", true}, {"cdn", true}, {"commits", json::array({{{"files", bert_files}, {"refs", {"main"}}}})}};
    spec["repos"]["hfx-test/xet-bert"] = {{"xet", true}, {"commits", json::array({{{"files", bert_files}, {"refs", {"main"}}}})}};
    // A sentence-transformers model (tokenizer, modules.json, 1_Pooling) and a GPT-2 with its tokenizer and
    // generation_config.json: what `hfx embed/tokenize/generate ORG/NAME` need beside the weights.
    json st = json::object();
    const fs::path st_dir = fixtures_dir() / "sentence/bert-mean-norm";
    for (const auto& e : fs::recursive_directory_iterator(st_dir))
      if (e.is_regular_file() && e.path().filename() != "expected.json")
        st[fs::relative(e.path(), st_dir).generic_string()] = e.path().string();
    spec["repos"]["hfx-test/tiny-st"]["commits"] = json::array({{{"files", st}, {"refs", {"main"}}}});
    json gen = json::object();
    for (const auto& e : fs::directory_iterator(fixtures_dir() / "tokenizers/cli-generate"))
      if (e.path().filename() != "expected_generate.json") gen[e.path().filename().string()] = e.path().string();
    spec["repos"]["hfx-test/tiny-gpt2"]["commits"] = json::array({{{"files", gen}, {"refs", {"main"}}}});
    // The newcomer transcript's other repos: PyTorch-only (pt-to-tf), TF-only, and a single-name id.
    spec["repos"]["hfx-test/pt-only"]["commits"] = json::array({{{"files", bert_files}, {"refs", {"main"}}}});
    spec["repos"]["hfx-test/tf-only"]["commits"] = json::array(
        {{{"files", {{"config.json", (bert / "config.json").string()}, {"tf_model.h5", (bert / "tf_model.h5").string()}}}, {"refs", {"main"}}}});
    spec["repos"]["tiny-single"]["commits"] = json::array({{{"files", bert_files}, {"refs", {"main"}}}});
    // A model_type hfx does not build, with weights beside it (issue 18: no weight request may reach the server).
    const std::string unknown_cfg = (workdir / "unknown-type-config.json").string();
    std::ofstream(unknown_cfg) << R"({"model_type": "no-such-model", "hidden_size": 8})";
    spec["repos"]["hfx-test/unknown-type"]["commits"] = json::array(
        {{{"files", {{"config.json", unknown_cfg}, {"model.safetensors", (bert / "model.safetensors").string()},
                     {"pytorch_model.bin", (mlm / "pytorch_model.bin").string()}, {"tf_model.h5", (bert / "tf_model.h5").string()},
                     {"flax_model.msgpack", (bert / "flax_model.msgpack").string()}}},
          {"refs", {"main"}}}});
    const std::string spec_path = (workdir / "spec.json").string();
    std::ofstream(spec_path) << spec.dump();

    int pipefd[2];
    if (pipe(pipefd) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    const std::string python = venv_python().empty() ? "python3" : venv_python();
    const std::string script = (hfx::testing::source_dir() / "tests/hub_server.py").string();
    std::vector<char*> argv = {const_cast<char*>(python.c_str()), const_cast<char*>(script.c_str()), const_cast<char*>(spec_path.c_str()), nullptr};
    if (posix_spawnp(&pid_, python.c_str(), &fa, nullptr, argv.data(), environ) != 0) throw std::runtime_error("cannot start " + python);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    std::string line;
    char c;
    while (read(pipefd[0], &c, 1) == 1 && c != '\n') line += c;
    close(pipefd[0]);
    const std::size_t sp = line.find(' ', 5);
    if (line.rfind("PORT ", 0) != 0 || sp == std::string::npos) throw std::runtime_error("hub_server.py did not start: '" + line + "'");
    endpoint_ = "http://127.0.0.1:" + line.substr(5, sp - 5);
    cdn_ = "http://127.0.0.1:" + line.substr(sp + 1);
  }
  ~HubServer() {
    kill(pid_, SIGTERM);
    int st = 0;
    waitpid(pid_, &st, 0);
  }
  const std::string& endpoint() const { return endpoint_; }
  const std::string& cdn() const { return cdn_; }
  json log() const {
    hub::HttpRequest r;
    r.url = endpoint_ + "/_test/log";
    return json::parse(hub::http(r).body);
  }
  void post(const std::string& path, const json& body) const {
    hub::HttpRequest r;
    r.method = "POST";
    r.url = endpoint_ + path;
    r.body = body.dump();
    EXPECT_EQ(hub::http(r).status, 200);
  }
  void faults(const json& f) const { post("/_test/faults", f); }
  void config(const json& c) const { post("/_test/config", c); }
  void clear_log() const { post("/_test/clear_log", json::object()); }
  // Requests whose method matches and whose path contains `part`.
  std::vector<json> requests(const std::string& method, const std::string& part) const {
    std::vector<json> out;
    const json all = log();
    for (const auto& e : all["log"])
      if (e["method"] == method && e["path"].get<std::string>().find(part) != std::string::npos) out.push_back(e);
    return out;
  }

 private:
  pid_t pid_ = 0;
  std::string endpoint_, cdn_;
};

class Hub : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_dir_ = new TempDir();
    server_ = new HubServer(server_dir_->path());
  }
  static void TearDownTestSuite() {
    delete server_;
    delete server_dir_;
  }
  void SetUp() override {
    for (const char* v : {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy", "HF_TOKEN",
                          "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TRANSFORMERS_CACHE",
                          "PYTORCH_TRANSFORMERS_CACHE", "PYTORCH_PRETRAINED_BERT_CACHE", "HUGGINGFACE_HUB_CACHE"})
      unsetenv(v);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    setenv("HF_ENDPOINT", server_->endpoint().c_str(), 1);
    setenv("HF_HOME", (tmp_.path() / "hf_home").c_str(), 1);
    setenv("HF_HUB_CACHE", cache().c_str(), 1);
    setenv("HF_HUB_DISABLE_TELEMETRY", "1", 1);
    server_->faults(json::array());
    server_->config(json::object());
    server_->clear_log();
  }
  void TearDown() override {
    for (const char* v : {"HF_ENDPOINT", "HF_HOME", "HF_HUB_CACHE", "HF_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}) unsetenv(v);
    server_->faults(json::array());
    EXPECT_TRUE(server_->log()["errors"].empty()) << server_->log()["errors"].dump();
  }
  std::string cache() const { return (tmp_.path() / "cache").string(); }
  fs::path storage(const std::string& repo = kRepo) const { return fs::path(cache()) / repo_folder_name(repo); }
  std::string ref(const std::string& name, const std::string& repo = kRepo) const { return slurp(storage(repo) / "refs" / name); }

  static TempDir* server_dir_;
  static HubServer* server_;
  TempDir tmp_;
};
TempDir* Hub::server_dir_ = nullptr;
HubServer* Hub::server_ = nullptr;

const fs::path kBert = fixtures_dir() / "bert/tiny/BertModel";

TEST(HubNames, RepoIdsFoldersAndPaths) {
  EXPECT_EQ(repo_folder_name("org/name"), "models--org--name");
  EXPECT_EQ(repo_folder_name("bert-base-cased"), "models--bert-base-cased");
  for (const char* ok : {"bert-base-cased", "org/name", "google-bert/bert-base.v2_x"}) EXPECT_TRUE(is_repo_id(ok)) << ok;
  for (const char* bad : {"", "/abs/path", "./dir", "a/b/c", "a--b", "a/../b", "~/x", "-a", "a.", "x y"}) EXPECT_FALSE(is_repo_id(bad)) << bad;
  EXPECT_TRUE(is_commit_hash(std::string(40, 'a')));
  EXPECT_FALSE(is_commit_hash("main"));
  EXPECT_NO_THROW(hub::check_repo_path("onnx/model.onnx", "t"));
  for (const char* bad : {"../x", "a/../../x", "/etc/passwd", "a//b", "a\\b", ""})
    expect_error([&] { hub::check_repo_path(bad, "t"); }, ErrorKind::Security, {"unsafe"});
  expect_error([] { hub::parse_shard_index(R"({"weight_map": {"w": "../../outside.safetensors"}})", "i.json"); },
               ErrorKind::Security, {"outside"});
  expect_error([] { hub::parse_shard_index(R"({"weight_map": [1]})", "i.json"); }, ErrorKind::Format, {"weight_map"});
  EXPECT_EQ(hub::parse_shard_index(R"({"weight_map": {"a": "s1", "b": "s2", "c": "s1"}})", "i.json"),
            (std::vector<std::string>{"s1", "s2"}));
  expect_error([] { hub::check_cache_name("../../x", "ETag"); }, ErrorKind::Network, {"ETag"});
  EXPECT_EQ(hub::content_range_total("bytes 10-19/100"), 100u);
  EXPECT_FALSE(hub::content_range_total("bytes 10-19/-1"));
  EXPECT_EQ(hub::resolve_url("http://h:1/a/b?x", "/cdn/z"), "http://h:1/cdn/z");
}

TEST(HubNames, MultipartLfsBatchAnswers) {
  const std::string oid(64, 'a');
  auto answer = [&](const json& header, const json& size = 25) {
    json o = {{"oid", oid}, {"size", size}, {"actions", {{"upload", {{"href", "http://h/complete"}, {"header", header}}}}}};
    return json({{"transfer", "multipart"}, {"objects", {o}}}).dump();
  };
  const hub::LfsBatch ok = hub::parse_lfs_batch_response(
      answer({{"chunk_size", "10"}, {"00003", "http://s/3"}, {"00001", "https://s/1"}, {"00002", "http://s/2"}}));
  EXPECT_EQ(ok.transfer, "multipart");
  ASSERT_EQ(ok.objects.size(), 1u);
  EXPECT_TRUE(ok.objects[0].multipart);
  EXPECT_EQ(ok.objects[0].chunk_size, 10u);
  EXPECT_EQ(ok.objects[0].part_urls, (std::vector<std::string>{"https://s/1", "http://s/2", "http://s/3"}));
  EXPECT_EQ(ok.objects[0].upload_href, "http://h/complete");
  // An integer chunk_size is read too; 20 bytes in chunks of 10 are exactly 2 parts.
  EXPECT_EQ(hub::parse_lfs_batch_response(answer({{"chunk_size", 10}, {"1", "http://s/1"}, {"2", "http://s/2"}}, 20)).objects[0].part_urls.size(), 2u);
  const std::vector<std::pair<json, std::string>> bad = {
      {{{"chunk_size", "0"}, {"00001", "http://s/1"}}, "chunk_size '0'"},
      {{{"chunk_size", "ten"}, {"00001", "http://s/1"}}, "chunk_size 'ten'"},
      {{{"chunk_size", -10}, {"00001", "http://s/1"}}, "chunk_size '-10'"},
      {{{"chunk_size", "10"}, {"00001", "http://s/1"}, {"00002", "http://s/2"}}, "2 multipart part URL(s) for 3 part(s)"},
      {{{"chunk_size", "10"}, {"1", "http://s/1"}, {"2", "http://s/2"}, {"3", "http://s/3"}, {"4", "http://s/4"}}, "part number 4 is outside 1..3"},
      {{{"chunk_size", "10"}, {"1", "http://s/1"}, {"00001", "http://s/1"}, {"2", "http://s/2"}}, "part 1 is given twice"},
      {{{"chunk_size", "10"}, {"1", "http://s/1"}, {"2", "file:///etc/passwd"}, {"3", "http://s/3"}}, "no http(s) upload URL"},
      {{{"chunk_size", "10"}, {"0", "http://s/0"}, {"1", "http://s/1"}, {"2", "http://s/2"}}, "part number 0"},
  };
  for (const auto& [header, why] : bad)
    expect_error([&] { hub::parse_lfs_batch_response(answer(header)); }, ErrorKind::Network, {"malformed LFS batch response", oid, why});
  expect_error([&] { hub::parse_lfs_batch_response(answer({{"chunk_size", "10"}, {"1", "http://s/1"}}, nullptr)); }, ErrorKind::Network,
               {"without the object's size"});
  expect_error([&] { hub::parse_lfs_batch_response(answer({{"chunk_size", "10"}}, 0)); }, ErrorKind::Network, {"empty object"});
  // A basic answer: no multipart, transfer read.
  const json basic = {{"transfer", "basic"}, {"objects", {{{"oid", oid}, {"size", 5}, {"actions", {{"upload", {{"href", "http://h/put"}}}}}}}}};
  const hub::LfsBatch b = hub::parse_lfs_batch_response(basic.dump());
  EXPECT_EQ(b.transfer, "basic");
  EXPECT_FALSE(b.objects[0].multipart);
  EXPECT_TRUE(b.objects[0].part_urls.empty());
}

TEST(HubNames, CacheDirFromEnvironment) {
  for (const char* v : {"TRANSFORMERS_CACHE", "PYTORCH_TRANSFORMERS_CACHE", "PYTORCH_PRETRAINED_BERT_CACHE", "HF_HUB_CACHE",
                        "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"})
    unsetenv(v);
  setenv("XDG_CACHE_HOME", "/x", 1);
  EXPECT_EQ(hub_cache_dir(), "/x/huggingface/hub");
  setenv("HF_HOME", "/h", 1);
  EXPECT_EQ(hub_cache_dir(), "/h/hub");
  setenv("HF_HUB_CACHE", "/c", 1);
  EXPECT_EQ(hub_cache_dir(), "/c");
  setenv("TRANSFORMERS_CACHE", "/t", 1);
  EXPECT_EQ(hub_cache_dir(), "/t");
  HubOptions o;
  o.cache_dir = "/o";
  EXPECT_EQ(hub_cache_dir(o), "/o");
  TempDir d;
  setenv("HF_HOME", d.path().c_str(), 1);
  std::ofstream(d.path() / "token") << "hf_from_file\n";
  EXPECT_EQ(hub_token().value_or(""), "hf_from_file");
  setenv("HF_TOKEN", "hf_from_env", 1);
  EXPECT_EQ(hub_token().value_or(""), "hf_from_env");
  for (const char* v : {"TRANSFORMERS_CACHE", "HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "HF_TOKEN"}) unsetenv(v);
}

TEST_F(Hub, DownloadWritesTheHuggingfaceHubLayout) {
  const std::string cfg = hf_hub_download(kRepo, "config.json");
  const std::string weights = hf_hub_download(kRepo, "model.safetensors");
  const std::string commit = ref("main");
  ASSERT_TRUE(is_commit_hash(commit)) << commit;
  EXPECT_EQ(fs::path(cfg), storage() / "snapshots" / commit / "config.json");
  EXPECT_EQ(fs::path(weights), storage() / "snapshots" / commit / "model.safetensors");
  // Relative symlinks into blobs/, named by git sha1 (regular files) or sha256 (LFS).
  const std::string bytes = slurp(kBert / "model.safetensors");
  EXPECT_EQ(fs::read_symlink(weights).string(), "../../blobs/" + hub::sha256_hex(bytes));
  EXPECT_EQ(fs::read_symlink(cfg).string().rfind("../../blobs/", 0), 0u);
  EXPECT_EQ(fs::read_symlink(cfg).filename().string().size(), 40u);
  EXPECT_EQ(slurp(weights), bytes);
  EXPECT_EQ(slurp(cfg), slurp(kBert / "config.json"));
  EXPECT_TRUE(fs::exists(fs::path(cache()) / ".locks" / repo_folder_name(kRepo) / (hub::sha256_hex(bytes) + ".lock")));
  for (const auto& e : fs::directory_iterator(storage() / "blobs")) EXPECT_EQ(e.path().extension(), "") << e.path();
  // The LFS file came through the 302 to /cdn/; a second call is a HEAD only.
  EXPECT_EQ(server_->requests("GET", "/cdn/").size(), 1u) << server_->log().dump();
  server_->clear_log();
  EXPECT_EQ(hf_hub_download(kRepo, "model.safetensors"), weights);
  EXPECT_EQ(server_->requests("GET", "").size(), 0u);
  EXPECT_EQ(server_->requests("HEAD", "/resolve/main/model.safetensors").size(), 1u);
  // A missing file: NotFound naming it, and a .no_exist marker for that commit.
  expect_error([] { hf_hub_download(kRepo, "pytorch_model.bin"); }, ErrorKind::NotFound, {"pytorch_model.bin", kRepo});
  EXPECT_TRUE(fs::exists(storage() / ".no_exist" / commit / "pytorch_model.bin"));
  EXPECT_FALSE(try_hf_hub_download(kRepo, "pytorch_model.bin"));
}

TEST_F(Hub, RevisionPinning) {
  HubOptions v1;
  v1.revision = "v1.0";
  const std::string old_weights = hf_hub_download(kRepo, "model.safetensors", v1);
  EXPECT_EQ(slurp(old_weights), slurp(kBert / "fp16/model.safetensors"));
  const std::string v1_commit = ref("v1.0");
  EXPECT_EQ(fs::path(old_weights).parent_path().filename(), v1_commit);
  const std::string new_weights = hf_hub_download(kRepo, "model.safetensors");
  EXPECT_EQ(slurp(new_weights), slurp(kBert / "model.safetensors"));
  EXPECT_NE(ref("main"), v1_commit);
  // A commit hash that is cached resolves without any request.
  server_->clear_log();
  HubOptions pinned;
  pinned.revision = v1_commit;
  EXPECT_EQ(hf_hub_download(kRepo, "model.safetensors", pinned), old_weights);
  EXPECT_TRUE(server_->log()["log"].empty());
  // ... and one that is not, through the server.
  HubOptions pinned_cfg = pinned;
  EXPECT_EQ(slurp(hf_hub_download(kRepo, "config.json", pinned_cfg)), slurp(kBert / "fp16/config.json"));
  HubOptions nope;
  nope.revision = "no-such-branch";
  expect_error([&] { hf_hub_download(kRepo, "config.json", nope); }, ErrorKind::NotFound, {"no-such-branch"});
  // Loading by repo id at a revision gives that revision's weights.
  LoadOptions lo;
  lo.hub.revision = "v1.0";
  lo.keep_file_dtype = true;
  auto m = AutoModel::from_pretrained(kRepo, lo);
  EXPECT_EQ(m->params().value(0).dtype(), DType::F16);
}

TEST_F(Hub, OfflineModeResolvesFromTheCacheOnly) {
  const std::string dir = resolve_pretrained(kRepo);
  server_->clear_log();
  for (const char* var : {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}) {
    setenv(var, "1", 1);
    EXPECT_EQ(resolve_pretrained(kRepo), dir);
    EXPECT_EQ(slurp(hf_hub_download(kRepo, "config.json")), slurp(kBert / "config.json"));
    expect_error([] { hf_hub_download(kRepo, "tf_model.h5"); }, ErrorKind::NotFound, {"tf_model.h5", "offline", kRepo});
    expect_error([] { resolve_pretrained("hfx-test/bin-only"); }, ErrorKind::NotFound, {"config.json", "hfx-test/bin-only"});
    unsetenv(var);
  }
  HubOptions local;
  local.local_files_only = true;
  expect_error([&] { hf_hub_download(kRepo, "flax_model.msgpack", local); }, ErrorKind::NotFound, {"flax_model.msgpack", "local_files_only"});
  EXPECT_TRUE(server_->log()["log"].empty()) << server_->log()["log"].dump();
  // The server down: what is cached is still served (like huggingface_hub's HEAD-failure fallback).
  setenv("HF_ENDPOINT", "http://127.0.0.1:9", 1);
  EXPECT_EQ(slurp(hf_hub_download(kRepo, "model.safetensors")), slurp(kBert / "model.safetensors"));
  expect_error([] { hf_hub_download(kRepo, "tf_model.h5"); }, ErrorKind::Network, {"cannot reach", "tf_model.h5", "not in the local cache"});
}

TEST_F(Hub, ResumesAfterTheServerDropsTheConnection) {
  const std::string bytes = slurp(kBert / "model.safetensors");
  // Dropped once: the retry asks for the rest with Range and the file is whole.
  server_->faults(json::array({{{"path_contains", "/cdn/"}, {"mode", "drop"}, {"times", 1}}}));
  EXPECT_EQ(slurp(hf_hub_download(kRepo, "model.safetensors")), bytes);
  auto gets = server_->requests("GET", "/cdn/");
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_TRUE(gets[0]["range"].is_null());
  EXPECT_EQ(gets[1]["range"], "bytes=" + std::to_string(bytes.size() / 2) + "-");
  // Dropped every time: an error, the partial file kept as .incomplete (not under its final name),
  // and the next run resumes from it.
  HubOptions v1;
  v1.revision = "v1.0";
  const std::string fp16 = slurp(kBert / "fp16/model.safetensors");
  const fs::path blob = storage() / "blobs" / hub::sha256_hex(fp16);
  server_->faults(json::array({{{"path_contains", "/cdn/"}, {"mode", "drop"}, {"times", -1}}}));
  expect_error([&] { hf_hub_download(kRepo, "model.safetensors", v1); }, ErrorKind::Network, {"model.safetensors", "size"});
  EXPECT_FALSE(fs::exists(blob));
  ASSERT_TRUE(fs::exists(blob.string() + ".incomplete"));
  const auto partial = fs::file_size(blob.string() + ".incomplete");
  EXPECT_GT(partial, 0u);
  EXPECT_LT(partial, fp16.size());
  EXPECT_FALSE(fs::exists(storage() / "snapshots" / ref("v1.0") / "model.safetensors"));
  server_->faults(json::array());
  server_->clear_log();
  EXPECT_EQ(slurp(hf_hub_download(kRepo, "model.safetensors", v1)), fp16);
  gets = server_->requests("GET", "/cdn/");
  ASSERT_EQ(gets.size(), 1u);
  EXPECT_EQ(gets[0]["range"], "bytes=" + std::to_string(partial) + "-");
  EXPECT_FALSE(fs::exists(blob.string() + ".incomplete"));
}

TEST_F(Hub, TruncatedOrWrongHashIsNeverLeftUnderItsFinalName) {
  const std::string bytes = slurp(kBert / "model.safetensors");
  const fs::path blob = storage() / "blobs" / hub::sha256_hex(bytes);
  server_->faults(json::array({{{"path_contains", "/cdn/"}, {"mode", "corrupt"}, {"times", -1}}}));
  expect_error([] { hf_hub_download(kRepo, "model.safetensors"); }, ErrorKind::Network, {"sha256 mismatch", "model.safetensors"});
  EXPECT_FALSE(fs::exists(blob));
  EXPECT_FALSE(fs::exists(blob.string() + ".incomplete"));
  EXPECT_FALSE(fs::exists(storage() / "snapshots" / ref("main") / "model.safetensors"));
  server_->faults(json::array({{{"path_contains", "/cdn/"}, {"mode", "truncate"}, {"times", -1}}}));
  expect_error([] { hf_hub_download(kRepo, "model.safetensors"); }, ErrorKind::Network, {"should be of size " + std::to_string(bytes.size())});
  EXPECT_FALSE(fs::exists(blob));
  EXPECT_FALSE(fs::exists(storage() / "snapshots" / ref("main") / "model.safetensors"));
  // A regular (non-LFS) file cut short is caught by the size check too.
  server_->faults(json::array({{{"path_contains", "config.json"}, {"mode", "truncate"}, {"times", -1}, {"method", "GET"}}}));
  expect_error([] { hf_hub_download(kRepo, "config.json"); }, ErrorKind::Network, {"config.json", "size"});
  EXPECT_FALSE(fs::exists(storage() / "snapshots" / ref("main") / "config.json"));
  server_->faults(json::array());
  EXPECT_EQ(slurp(hf_hub_download(kRepo, "model.safetensors")), bytes);
  EXPECT_EQ(slurp(hf_hub_download(kRepo, "config.json")), slurp(kBert / "config.json"));
}

// Issue 24: a FIFO in the cache where a download writes (blobs/*.incomplete)
// or reads (refs/<revision>) is refused, never awaited.
TEST_F(Hub, FifoInTheCacheIsRefusedNeverAwaited) {
  auto refused = [](const fs::path& fifo, const std::function<void()>& f) { hfx::testing::expect_fifo_refused(fifo.string(), f); };
  const std::string bytes = slurp(kBert / "model.safetensors");
  const fs::path blob = storage() / "blobs" / hub::sha256_hex(bytes);
  fs::create_directories(blob.parent_path());
  const fs::path incomplete = blob.string() + ".incomplete";
  ASSERT_EQ(::mkfifo(incomplete.c_str(), 0600), 0);
  refused(incomplete, [] { hf_hub_download(kRepo, "model.safetensors"); });
  fs::remove(incomplete);
  hf_hub_download(kRepo, "config.json");
  const fs::path main_ref = storage() / "refs" / "main";
  fs::remove(main_ref);
  ASSERT_EQ(::mkfifo(main_ref.c_str(), 0600), 0);
  refused(main_ref, [] { hf_hub_download(kRepo, "model.safetensors"); });
  HubOptions offline;
  offline.local_files_only = true;
  refused(main_ref, [&] { hf_hub_download(kRepo, "config.json", offline); });
}

TEST_F(Hub, HttpErrorsAreClear) {
  expect_error([] { hf_hub_download("hfx-test/private-bert", "config.json"); }, ErrorKind::Network, {"401", "token", "hfx-test/private-bert"});
  setenv("HF_TOKEN", kToken, 1);
  EXPECT_EQ(slurp(hf_hub_download("hfx-test/private-bert", "config.json")), slurp(kBert / "config.json"));
  EXPECT_EQ(server_->requests("HEAD", "private-bert").back()["authorization"], std::string("Bearer ") + kToken);
  // Like the hub: a missing repo is a 401 without a token, a 404 with one.
  expect_error([] { hf_hub_download("hfx-test/no-such-repo", "config.json"); }, ErrorKind::NotFound, {"404", "RepoNotFound"});
  unsetenv("HF_TOKEN");
  expect_error([] { hf_hub_download("hfx-test/no-such-repo", "config.json"); }, ErrorKind::Network, {"401", "RepoNotFound", "token"});
  server_->faults(json::array({{{"path_contains", "/resolve/"}, {"mode", "status"}, {"status", 500}, {"times", -1}}}));
  expect_error([] { hf_hub_download(kRepo, "config.json"); }, ErrorKind::Network, {"500", "config.json"});
  server_->faults(json::array({{{"path_contains", "/cdn/"}, {"mode", "status"}, {"status", 403}, {"times", -1}}}));
  expect_error([] { hf_hub_download(kRepo, "model.safetensors"); }, ErrorKind::Network, {"403"});
  server_->faults(json::array());
  setenv("HF_ENDPOINT", "http://127.0.0.1:9", 1);
  expect_error([] { hf_hub_download(kRepo, "config.json"); }, ErrorKind::Network, {"cannot reach", "config.json"});
  expect_error([] { hf_hub_download(kRepo, "../escape"); }, ErrorKind::Security, {"../escape"});
}

TEST_F(Hub, RenamedRepoFollowsTheRelativeRedirect) {
  EXPECT_EQ(slurp(hf_hub_download("old-org/tiny-bert", "model.safetensors")), slurp(kBert / "model.safetensors"));
  EXPECT_EQ(server_->requests("HEAD", "/old-org/tiny-bert/resolve/").front()["status"], 307);
  EXPECT_TRUE(fs::is_symlink(storage("old-org/tiny-bert") / "snapshots" / ref("main", "old-org/tiny-bert") / "model.safetensors"));
}

Outputs run_model(const Model& m, const fs::path& inputs) { return m.forward(hfx::testing::read_fixture_inputs(inputs)); }

TEST_F(Hub, AutoModelByRepoIdMatchesTheLocalFolder) {
  LoadingInfo info;
  auto by_id = AutoModel::from_pretrained(kRepo, {}, &info);
  auto local = AutoModel::from_pretrained(kBert.string());
  ASSERT_EQ(info.files.size(), 1u);
  EXPECT_EQ(fs::path(info.files[0]).filename(), "model.safetensors");
  EXPECT_NE(info.files[0].find(cache()), std::string::npos);
  const Outputs a = run_model(*by_id, kBert / "inputs.safetensors"), b = run_model(*local, kBert / "inputs.safetensors");
  ASSERT_EQ(a.items().size(), b.items().size());
  for (std::size_t i = 0; i < a.items().size(); ++i) EXPECT_EQ(max_abs_diff(a.items()[i].second, b.items()[i].second), 0.0) << a.items()[i].first;
  // from_flax / from_tf fetch those weights instead.
  LoadOptions flax;
  flax.from_flax = true;
  LoadingInfo finfo;
  auto by_flax = AutoModel::from_pretrained(kRepo, flax, &finfo);
  EXPECT_EQ(fs::path(finfo.files[0]).filename(), "flax_model.msgpack");
  EXPECT_LE(max_abs_diff(run_model(*by_flax, kBert / "inputs.safetensors").get("last_hidden_state"), a.get("last_hidden_state")), 1e-5);
  // pytorch_model.bin when there is no safetensors (after a .no_exist for model.safetensors).
  LoadingInfo binfo;
  auto bin = AutoModelForMaskedLM::from_pretrained("hfx-test/bin-only", {}, &binfo);
  EXPECT_EQ(fs::path(binfo.files[0]).filename(), "pytorch_model.bin");
  EXPECT_TRUE(fs::exists(storage("hfx-test/bin-only") / ".no_exist" / ref("main", "hfx-test/bin-only") / "model.safetensors"));
  EXPECT_TRUE(fs::exists(storage("hfx-test/bin-only") / ".no_exist" / ref("main", "hfx-test/bin-only") / "model.safetensors.index.json"));
}

TEST_F(Hub, ShardedCheckpointIndexThenShards) {
  const fs::path mlm = fixtures_dir() / "bert/tiny/BertForMaskedLM";
  const std::string dir = resolve_pretrained("hfx-test/tiny-bert-sharded");
  for (const auto& e : fs::directory_iterator(mlm / "sharded_safetensors"))
    if (e.path().extension() == ".safetensors" || e.path().filename() == "model.safetensors.index.json") {
      EXPECT_EQ(slurp(fs::path(dir) / e.path().filename()), slurp(e.path())) << e.path();
    }
  // The index came before any shard.
  std::size_t index_at = 0, first_shard_at = SIZE_MAX, i = 0;
  const json all = server_->log();
  for (const auto& e : all["log"]) {
    const std::string p = e["path"];
    if (p.find("model.safetensors.index.json") != std::string::npos) index_at = i;
    if (p.find("-of-0000") != std::string::npos) first_shard_at = std::min(first_shard_at, i);
    ++i;
  }
  EXPECT_LT(index_at, first_shard_at);
  auto by_id = AutoModelForMaskedLM::from_pretrained("hfx-test/tiny-bert-sharded");
  auto local = AutoModelForMaskedLM::from_pretrained((mlm / "sharded_safetensors").string());
  EXPECT_EQ(max_abs_diff(run_model(*by_id, mlm / "inputs.safetensors").get("logits"), run_model(*local, mlm / "inputs.safetensors").get("logits")), 0.0);
}

TEST_F(Hub, TwoProcessesDownloadingTheSameModel) {
  // Slow LFS answers so that the two runs overlap; the blob lock lets one write while the other waits.
  server_->faults(json::array({{{"path_contains", "/cdn/"}, {"mode", "slow"}, {"times", -1}}}));
  const std::string cmd = std::string(HFX_CLI_PATH) + " download " + kRepo + " --quiet";
  const Shell r = shell("(" + cmd + " > " + (tmp_.path() / "a.out").string() + " 2>&1; echo $? > " + (tmp_.path() / "a.rc").string() + ") & " +
                        "(" + cmd + " > " + (tmp_.path() / "b.out").string() + " 2>&1; echo $? > " + (tmp_.path() / "b.rc").string() + ") & wait");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(slurp(tmp_.path() / "a.rc"), "0\n") << slurp(tmp_.path() / "a.out");
  EXPECT_EQ(slurp(tmp_.path() / "b.rc"), "0\n") << slurp(tmp_.path() / "b.out");
  const fs::path snap = storage() / "snapshots" / ref("main");
  EXPECT_EQ(slurp(tmp_.path() / "a.out"), snap.string() + "\n");
  EXPECT_EQ(slurp(snap / "model.safetensors"), slurp(kBert / "model.safetensors"));
  EXPECT_EQ(slurp(snap / "config.json"), slurp(kBert / "config.json"));
  EXPECT_EQ(server_->requests("GET", "/cdn/").size(), 1u);  // written once, by whichever got the lock
  for (const auto& e : fs::directory_iterator(storage() / "blobs")) EXPECT_EQ(e.path().extension(), "") << e.path();
}

// Issue 18: the model_type is checked as soon as config.json arrives; an unknown one is Unsupported (listing
// the supported types) and no weight file of the repo is requested, by the library or by `hfx info`.
TEST_F(Hub, UnknownModelTypeFailsBeforeAnyWeightRequest) {
  auto no_weight_requests = [&] {
    for (const char* w : {"model.safetensors", "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", ".index.json"}) {
      EXPECT_TRUE(server_->requests("HEAD", w).empty()) << w << ": " << server_->log().dump();
      EXPECT_TRUE(server_->requests("GET", w).empty()) << w << ": " << server_->log().dump();
    }
  };
  expect_error([] { (void)AutoModel::from_pretrained("hfx-test/unknown-type"); }, ErrorKind::Unsupported,
               {"unknown model_type 'no-such-model'", "supported", "bert", "xlm-roberta", "camembert", "qwen2", "gemma", "olmo", "starcoder2", "gpt_neox", "stablelm", "phi", "phi3"});
  EXPECT_EQ(server_->requests("GET", "/hfx-test/unknown-type/resolve/main/config.json").size(), 1u) << server_->log().dump();
  no_weight_requests();
  LoadOptions tf;
  tf.from_tf = true;
  expect_error([&] { (void)AutoModelForMaskedLM::from_pretrained("hfx-test/unknown-type", tf); }, ErrorKind::Unsupported, {"no-such-model"});
  no_weight_requests();
  server_->clear_log();
  const Shell r = shell(std::string(HFX_CLI_PATH) + " info hfx-test/unknown-type");
  EXPECT_EQ(r.status, Error(ErrorKind::Unsupported, "").exit_code()) << r.out;
  EXPECT_NE(r.out.find("no-such-model"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("qwen2"), std::string::npos) << r.out;
  no_weight_requests();
  // A local folder: Unsupported too, before the weight file is opened (an unreadable one would be an Io error).
  TempDir local;
  fs::copy_file(storage("hfx-test/unknown-type") / "snapshots" / ref("main", "hfx-test/unknown-type") / "config.json",
                local.file("config.json"));
  hfx::testing::write_bytes(local.file("model.safetensors"), "not a safetensors file");
  expect_error([&] { (void)AutoModel::from_pretrained(local.path().string()); }, ErrorKind::Unsupported, {"no-such-model"});
}

TEST_F(Hub, CliDownloadScanCacheAndRepoIdPaths) {
  Shell r = shell(std::string(HFX_CLI_PATH) + " download " + kRepo + " tf_model.h5 config.json --revision main --quiet --cache-dir " + cache());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(slurp(fs::path(r.out.substr(0, r.out.size() - 1)) / "tf_model.h5"), slurp(kBert / "tf_model.h5"));
  r = shell(std::string(HFX_CLI_PATH) + " info " + kRepo);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("model_type:   bert"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(storage().string()), std::string::npos) << r.out;
  r = shell(std::string(HFX_CLI_PATH) + " scan-cache --cache-dir " + cache());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find(kRepo), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(ref("main")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("main"), std::string::npos) << r.out;
  const CacheInfo ci = scan_cache(cache());
  ASSERT_EQ(ci.repos.size(), 1u);
  EXPECT_EQ(ci.repos[0].repo_id, kRepo);
  EXPECT_EQ(ci.repos[0].nb_files, 3u);  // config.json, tf_model.h5, model.safetensors
  r = shell(std::string(HFX_CLI_PATH) + " download hfx-test/no-such-repo --quiet");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("RepoNotFound"), std::string::npos) << r.out;
}

TEST_F(Hub, PushToHubEndToEnd) {
  setenv("HF_TOKEN", kToken, 1);
  auto model = AutoModel::from_pretrained(kBert.string());
  PushOptions po;
  po.commit_message = "hfx push test";
  po.max_shard_size = "50KB";
  const CommitInfo ci = push_to_hub(*model, "hfx-test/pushed", po);
  EXPECT_EQ(ci.commit_url, server_->endpoint() + "/hfx-test/pushed/commit/" + ci.commit_oid);
  EXPECT_TRUE(ci.pr_url.empty());
  EXPECT_EQ(ci.regular_files, (std::vector<std::string>{"config.json", "model.safetensors.index.json"}));
  ASSERT_GE(ci.lfs_files.size(), 2u);  // shards
  // The calls huggingface_hub makes, in its order, each checked by the server.
  EXPECT_EQ(server_->requests("POST", "/api/repos/create").size(), 1u);
  EXPECT_EQ(server_->requests("POST", "/api/models/hfx-test/pushed/preupload/main").size(), 1u);
  EXPECT_EQ(server_->requests("POST", "/hfx-test/pushed.git/info/lfs/objects/batch").size(), 1u);
  EXPECT_EQ(server_->requests("PUT", "/_lfs/").size(), ci.lfs_files.size());
  EXPECT_EQ(server_->requests("POST", "/info/lfs/objects/verify").size(), ci.lfs_files.size());
  const auto commit = server_->requests("POST", "/api/models/hfx-test/pushed/commit/main");
  ASSERT_EQ(commit.size(), 1u);
  EXPECT_EQ(commit[0]["summary"], "hfx push test");
  EXPECT_EQ(commit[0]["status"], 200);
  EXPECT_EQ(server_->log()["log"].back()["path"], "/api/models/hfx-test/pushed/commit/main");
  // Downloading what was pushed gives back the model.
  unsetenv("HF_TOKEN");
  LoadingInfo info;
  auto back = AutoModel::from_pretrained("hfx-test/pushed", {}, &info);
  EXPECT_EQ(fs::path(info.files[0]).filename(), "model.safetensors.index.json");
  EXPECT_EQ(ref("main", "hfx-test/pushed"), ci.commit_oid);
  EXPECT_EQ(max_abs_diff(run_model(*back, kBert / "inputs.safetensors").get("last_hidden_state"),
                         run_model(*model, kBert / "inputs.safetensors").get("last_hidden_state")), 0.0);
  // Without a token: a clear error before any call.
  expect_error([&] { push_to_hub(*model, "hfx-test/pushed", po); }, ErrorKind::Network, {"token"});
  // A pull request from the CLI into the existing repo (409 on create is fine); the LFS
  // objects are already upstream, so nothing is PUT again.
  setenv("HF_TOKEN", kToken, 1);
  server_->clear_log();
  const Shell r = shell(std::string(HFX_CLI_PATH) + " push " + kBert.string() + " hfx-test/pushed --create-pr --commit-message 'from the cli'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("pull request: " + server_->endpoint() + "/hfx-test/pushed/discussions/1"), std::string::npos) << r.out;
  EXPECT_EQ(server_->requests("POST", "/api/repos/create").front()["status"], 409);
  const auto pr = server_->requests("POST", "/commit/main?create_pr=1");
  ASSERT_EQ(pr.size(), 1u);
  EXPECT_EQ(pr[0]["summary"], "from the cli");
  HubOptions at_pr;
  at_pr.revision = "refs/pr/1";
  EXPECT_EQ(slurp(hf_hub_download("hfx-test/pushed", "tf_model.h5", at_pr)), slurp(kBert / "tf_model.h5"));
  EXPECT_NO_THROW(hf_hub_download("hfx-test/pushed", "model.safetensors.index.json", at_pr));  // the earlier commit's files stay
}

// hfx push on a terminal: one upload bar per LFS file (huggingface_hub's), and the save bar when the
// folder is re-saved with --max-shard-size; none with --no-progress.
TEST_F(Hub, PushDrawsUploadProgressOnATerminal) {
  setenv("HF_TOKEN", kToken, 1);
  // Objects the server already holds (earlier tests pushed these files) are not uploaded again: push
  // copies whose bytes no other test sends.
  hfx::testing::TempDir own;
  for (const char* f : {"config.json", "model.safetensors", "tf_model.h5", "flax_model.msgpack"}) {
    fs::copy_file(kBert / f, own.path() / f);
    if (std::string(f) != "config.json") std::ofstream(own.path() / f, std::ios::app) << "progress-test";
  }
  auto r = hfx::testing::run_cli_tty("push " + own.path().string() + " hfx-test/progress");
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* f : {"model.safetensors: 100%|", "tf_model.h5: 100%|", "flax_model.msgpack: 100%|"})
    EXPECT_NE(r.out.find(f), std::string::npos) << f << "\n" << r.out;
  EXPECT_NE(r.out.find("B/s]"), std::string::npos) << r.out;
  r = hfx::testing::run_cli_tty("push " + kBert.string() + " hfx-test/progress2 --max-shard-size 37KB");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("shards of model.safetensors: 100%|"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model-00001-of-"), std::string::npos) << r.out;
  std::ofstream(own.path() / "model.safetensors", std::ios::app) << "again";
  r = hfx::testing::run_cli_tty("--no-progress push " + own.path().string() + " hfx-test/progress3");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.find("%|"), std::string::npos) << r.out;
}

TEST_F(Hub, PushUploadsLargeFilesInPartsLikeHuggingfaceHub) {
  setenv("HF_TOKEN", kToken, 1);
  const fs::path mlm = fixtures_dir() / "bert/tiny/BertForMaskedLM";
  auto model = AutoModelForMaskedLM::from_pretrained(mlm.string());
  // Objects over 50 kB go multipart, in 20 kB parts (the last one shorter); part 2 fails once with a 500.
  server_->config({{"multipart_threshold", 50000}, {"chunk_size", 20000}});
  server_->faults(json::array({{{"path_contains", "/2?X-Amz-Signature"}, {"mode", "status"}, {"status", 500}, {"times", 1}, {"method", "PUT"}}}));
  PushOptions po;
  po.commit_message = "multipart";
  const CommitInfo ci = push_to_hub(*model, "hfx-test/pushed-multipart", po);
  ASSERT_EQ(ci.lfs_files, (std::vector<std::string>{"model.safetensors"}));
  const TempDir saved;
  save_pretrained(*model, saved.path().string());
  const std::string weights = slurp(saved.path() / "model.safetensors");
  ASSERT_GT(weights.size(), 60000u);
  const std::size_t parts = (weights.size() + 19999) / 20000;
  // The batch offered basic + multipart; every part went to its presigned URL on the storage
  // host, without the token; part 2 was retried; then one completion and the verify call.
  const auto batch = server_->requests("POST", "/hfx-test/pushed-multipart.git/info/lfs/objects/batch");
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0]["payload"]["transfers"], json::parse(R"(["basic", "multipart"])"));
  const auto puts = server_->requests("PUT", "/_lfs_part/" + hub::sha256_hex(weights) + "/");
  ASSERT_EQ(puts.size(), parts + 1) << server_->log().dump();
  std::size_t bytes = 0;
  for (const auto& p : puts) {
    EXPECT_EQ(p["host"], "cdn");
    EXPECT_TRUE(p["authorization"].is_null());
    if (p["status"] == 200) bytes += p["bytes"].get<std::size_t>();
  }
  EXPECT_EQ(bytes, weights.size());
  EXPECT_EQ(puts[1]["status"], 500);
  EXPECT_EQ(puts[2]["part"], 2);
  EXPECT_EQ(puts.back()["bytes"], weights.size() - (parts - 1) * 20000);
  const auto done = server_->requests("POST", "/_lfs_complete/" + hub::sha256_hex(weights));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0]["status"], 200);
  EXPECT_EQ(done[0]["parts"], parts);
  EXPECT_EQ(server_->requests("POST", "/info/lfs/objects/verify").size(), 1u);
  EXPECT_TRUE(server_->requests("PUT", "/_lfs/").empty());
  // What the hub reassembled is the model.
  unsetenv("HF_TOKEN");
  EXPECT_EQ(slurp(hf_hub_download("hfx-test/pushed-multipart", "model.safetensors")), weights);
  auto back = AutoModelForMaskedLM::from_pretrained("hfx-test/pushed-multipart");
  EXPECT_EQ(max_abs_diff(run_model(*back, mlm / "inputs.safetensors").get("logits"), run_model(*model, mlm / "inputs.safetensors").get("logits")), 0.0);
}

TEST_F(Hub, MalformedMultipartAnswersAreClearErrors) {
  setenv("HF_TOKEN", kToken, 1);
  const TempDir folder;
  std::ofstream(folder.path() / "config.json") << R"({"model_type": "bert"})";
  std::string big(30000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919u) >> 3);
  std::ofstream(folder.path() / "weights.bin", std::ios::binary) << big;
  const std::string oid = hub::sha256_hex(big);
  const std::vector<std::array<std::string, 3>> cases = {  // mode, what the error says
      {"zero_chunk", "chunk_size '0'", oid},
      {"text_chunk", "chunk_size 'lots'", oid},
      {"missing_part", "2 multipart part URL(s) for 3 part(s)", oid},
      {"extra_part", "part number 00004 is outside 1..3", oid},
      {"no_url", "part 00001 has no http(s) upload URL", oid},
      {"size", "40000 bytes, the file has 30000", "weights.bin"},
  };
  for (const auto& [mode, why, which] : cases) {
    server_->config({{"multipart_threshold", 1000}, {"chunk_size", 10000}, {"multipart_bad", mode}});
    expect_error([&] { upload_folder(folder.path().string(), "hfx-test/bad-multipart"); }, ErrorKind::Network,
                 {"malformed LFS batch response", why, which});
  }
  EXPECT_TRUE(server_->requests("PUT", "").empty());  // nothing uploaded, nothing committed
  EXPECT_TRUE(server_->requests("POST", "/commit/").empty());
  // A server that wants Xet storage: Unsupported, naming Xet, before any upload.
  server_->config({{"lfs_transfer", "xet"}});
  expect_error([&] { upload_folder(folder.path().string(), "hfx-test/bad-multipart"); }, ErrorKind::Unsupported,
               {"Xet", "hf_xet", "hfx-test/bad-multipart"});
  EXPECT_TRUE(server_->requests("PUT", "").empty());
  EXPECT_TRUE(server_->requests("POST", "/commit/").empty());
  // The same folder through a well-formed multipart answer.
  server_->config({{"multipart_threshold", 1000}, {"chunk_size", 10000}});
  const CommitInfo ci = upload_folder(folder.path().string(), "hfx-test/bad-multipart");
  EXPECT_EQ(server_->requests("PUT", "/_lfs_part/").size(), 3u);
  unsetenv("HF_TOKEN");
  HubOptions at;
  at.revision = ci.commit_oid;
  EXPECT_EQ(slurp(hf_hub_download("hfx-test/bad-multipart", "weights.bin", at)), big);
}

TEST_F(Hub, TheTokenGoesToTheHubButNeverToTheCdn) {
  setenv("HF_TOKEN", kToken, 1);
  const std::string bearer = std::string("Bearer ") + kToken;
  // An LFS file: HEAD on the hub (private repo: the token is needed), then the 302 to the CDN on another port.
  EXPECT_EQ(slurp(hf_hub_download("hfx-test/private-cdn", "model.safetensors")), slurp(kBert / "model.safetensors"));
  const auto head = server_->requests("HEAD", "/hfx-test/private-cdn/resolve/main/model.safetensors");
  ASSERT_EQ(head.size(), 1u);
  EXPECT_EQ(head[0]["host"], "hub");
  EXPECT_EQ(head[0]["authorization"], bearer);
  auto cdn = server_->requests("GET", "/cdn/");
  ASSERT_EQ(cdn.size(), 1u);
  EXPECT_EQ(cdn[0]["host"], "cdn");
  EXPECT_TRUE(cdn[0]["authorization"].is_null()) << cdn[0].dump();
  // A regular file whose GET the hub itself redirects to the CDN: the token on the hub hop only.
  server_->clear_log();
  server_->faults(json::array({{{"path_contains", "private-cdn/resolve/main/config.json"}, {"mode", "redirect_cdn"}, {"method", "GET"}, {"times", 1}}}));
  EXPECT_EQ(slurp(hf_hub_download("hfx-test/private-cdn", "config.json")), slurp(kBert / "config.json"));
  const auto get = server_->requests("GET", "/hfx-test/private-cdn/resolve/main/config.json");
  ASSERT_EQ(get.size(), 1u);
  EXPECT_EQ(get[0]["status"], 302);
  EXPECT_EQ(get[0]["authorization"], bearer);
  cdn = server_->requests("GET", "/cdn/");
  ASSERT_EQ(cdn.size(), 1u);
  EXPECT_EQ(cdn[0]["host"], "cdn");
  EXPECT_TRUE(cdn[0]["authorization"].is_null()) << cdn[0].dump();
  // The whole model by repo id, the same way (TearDown also fails on any Authorization the CDN saw).
  auto m = AutoModel::from_pretrained("hfx-test/private-cdn");
  EXPECT_EQ(m->class_name(), "BertModel");
}

// Issue 24 defect 2: one redirect policy for every request. A "//host:port/..."
// Location names another host: HEAD does not follow it (huggingface_hub follows
// only netloc-less ones) and the GET that goes there carries no token.
TEST_F(Hub, SchemeRelativeRedirectsNeverCarryTheToken) {
  setenv("HF_TOKEN", kToken, 1);
  const std::string bearer = std::string("Bearer ") + kToken;
  for (const char* method : {"HEAD", "GET"}) {
    SCOPED_TRACE(method);
    server_->clear_log();
    server_->faults(json::array({{{"path_contains", "private-cdn/resolve/main/config.json"}, {"mode", "redirect_cdn_scheme_relative"},
                                  {"method", method}, {"times", 1}}}));
    HubOptions o;
    o.force_download = true;
    EXPECT_EQ(slurp(hf_hub_download("hfx-test/private-cdn", "config.json", o)), slurp(kBert / "config.json"));
    const auto hub_hop = server_->requests(method, "/hfx-test/private-cdn/resolve/main/config.json");
    ASSERT_FALSE(hub_hop.empty());
    EXPECT_EQ(hub_hop.back()["status"], 302);
    EXPECT_EQ(hub_hop.back()["authorization"], bearer);
    const auto cdn = server_->requests("GET", "/cdn/");
    ASSERT_EQ(cdn.size(), 1u);
    EXPECT_EQ(cdn[0]["host"], "cdn");
    EXPECT_TRUE(cdn[0]["authorization"].is_null()) << cdn[0].dump();
    EXPECT_TRUE(server_->requests("HEAD", "/cdn/").empty());  // HEAD never followed it
    EXPECT_TRUE(server_->log()["errors"].empty()) << server_->log()["errors"].dump();
  }
}

TEST(HubRedirectPolicy, CredentialsOnlyToTheSameOrigin) {
  const std::vector<std::string> h = {"authorization: Bearer x", "Accept-Encoding: identity", "Cookie: a=b"};
  const std::vector<std::string> bare = {"Accept-Encoding: identity"};
  EXPECT_EQ(hub::redirect_headers(h, "https://hub.example/a", "https://HUB.example:443/b"), h);
  EXPECT_EQ(hub::redirect_headers(h, "https://hub.example/a", hub::resolve_url("https://hub.example/a", "/b")), h);
  EXPECT_EQ(hub::redirect_headers(h, "https://hub.example/a", hub::resolve_url("https://hub.example/a", "//cdn.example/b")), bare);
  EXPECT_EQ(hub::redirect_headers(h, "http://127.0.0.1:1/a", hub::resolve_url("http://127.0.0.1:1/a", "//127.0.0.1:2/b")), bare);
  EXPECT_EQ(hub::redirect_headers(h, "https://hub.example/a", "http://hub.example/a"), bare);  // scheme change
  EXPECT_EQ(hub::redirect_headers(h, "https://hub.example/a", "https://hub.example.evil/a"), bare);
  EXPECT_EQ(hub::redirect_headers(h, "https://hub.example/a", "https://hub.example@evil.example/a"), bare);
  EXPECT_TRUE(hub::names_host("//other:1/x"));
  EXPECT_TRUE(hub::names_host("HTTPS://other/x"));
  EXPECT_FALSE(hub::names_host("/api/x"));
  EXPECT_FALSE(hub::names_host("x/y:z"));
}

// A server that stalls before the body fails after HF_HUB_DOWNLOAD_TIMEOUT per attempt
// (huggingface_hub's 10 s by default), not after a fixed minute.
TEST_F(Hub, StalledDownloadHonoursHfHubDownloadTimeout) {
  EXPECT_EQ(hub::hub_timeout_s(true), 10);
  EXPECT_EQ(hub::hub_timeout_s(false), 10);
  setenv("HF_HUB_DOWNLOAD_TIMEOUT", "1", 1);
  setenv("HF_HUB_ETAG_TIMEOUT", "2", 1);
  EXPECT_EQ(hub::hub_timeout_s(false), 1);
  EXPECT_EQ(hub::hub_timeout_s(true), 2);
  setenv("HF_TOKEN", kToken, 1);
  server_->faults(json::array({{{"path_contains", "/cdn/"}, {"mode", "stall"}, {"seconds", 30}, {"times", -1}}}));
  const auto t0 = std::chrono::steady_clock::now();
  expect_error([] { hf_hub_download("hfx-test/private-cdn", "model.safetensors"); }, ErrorKind::Network, {"model.safetensors"});
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  unsetenv("HF_HUB_DOWNLOAD_TIMEOUT");
  unsetenv("HF_HUB_ETAG_TIMEOUT");
  EXPECT_GE(s, 1.0) << "the download did not reach the stalled body";
  EXPECT_GE(server_->requests("GET", "/cdn/").size(), 2u);  // retried, as http_get does
  EXPECT_LT(s, 25.0) << "5 attempts of a 1 s read timeout took " << s << " s";
}

// A download into a full cache names the cause (ENOSPC), on a 64 KB tmpfs.
TEST_F(Hub, DownloadIntoAFullCacheSaysNoSpace) {
  const fs::path small = tmp_.path() / "small";
  fs::create_directories(small);
  if (::system(("mount -t tmpfs -o size=64k tmpfs " + small.string() + " 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  struct Unmount { fs::path p; ~Unmount() { (void)::system(("umount " + p.string()).c_str()); } } unmount{small};
  setenv("HF_HUB_CACHE", small.c_str(), 1);
  setenv("HF_TOKEN", kToken, 1);
  expect_error([] { hf_hub_download("hfx-test/private-cdn", "model.safetensors"); }, ErrorKind::Io, {"No space left on device"});
}

TEST_F(Hub, XetBackedFilesDownloadOverHttpOrSayXet) {
  const std::string bytes = slurp(kBert / "model.safetensors");
  // No ETag for a Xet-backed file: no plain HTTP download is possible, and the error says Xet.
  server_->faults(json::array({{{"path_contains", "xet-bert/resolve/main/model.safetensors"}, {"mode", "strip"},
                                {"headers", {"ETag", "X-Linked-Etag"}}, {"method", "HEAD"}, {"times", 1}}}));
  expect_error([] { hf_hub_download("hfx-test/xet-bert", "model.safetensors"); }, ErrorKind::Unsupported,
               {"model.safetensors", "hfx-test/xet-bert", "Xet", "hf_xet", "no ETag"});
  // The HTTP fallback refused: Unsupported naming Xet, with the HTTP error.
  server_->faults(json::array({{{"path_contains", "/cdn/"}, {"mode", "status"}, {"status", 403}, {"times", 1}}}));
  expect_error([] { hf_hub_download("hfx-test/xet-bert", "model.safetensors"); }, ErrorKind::Unsupported,
               {"model.safetensors", "Xet", "hf_xet", "403"});
  EXPECT_FALSE(fs::exists(storage("hfx-test/xet-bert") / "blobs" / hub::sha256_hex(bytes)));
  // Otherwise it downloads over HTTP, as huggingface_hub does without hf_xet.
  server_->faults(json::array());
  server_->clear_log();
  EXPECT_EQ(slurp(hf_hub_download("hfx-test/xet-bert", "model.safetensors")), bytes);
  EXPECT_EQ(server_->requests("GET", "/cdn/").size(), 1u);
  // A non-Xet file with a 403 from the CDN stays a Network error.
  server_->faults(json::array({{{"path_contains", "/cdn/"}, {"mode", "status"}, {"status", 403}, {"times", 1}}}));
  expect_error([] { hf_hub_download(kRepo, "model.safetensors"); }, ErrorKind::Network, {"403"});
}

TEST_F(Hub, CliDownloadOfAnIndexBringsItsShards) {
  const std::string repo = "hfx-test/tiny-bert-sharded";
  const fs::path mlm = fixtures_dir() / "bert/tiny/BertForMaskedLM";
  const Shell r = shell(std::string(HFX_CLI_PATH) + " download " + repo + " config.json model.safetensors.index.json --quiet --cache-dir " + cache());
  ASSERT_EQ(r.status, 0) << r.out;
  const fs::path snap = r.out.substr(0, r.out.size() - 1);
  EXPECT_EQ(snap, storage(repo) / "snapshots" / ref("main", repo));
  const std::vector<std::string> shards =
      hub::parse_shard_index(slurp(mlm / "sharded_safetensors/model.safetensors.index.json"), "index");
  ASSERT_GE(shards.size(), 2u);
  for (const auto& s : shards) EXPECT_EQ(slurp(snap / s), slurp(mlm / "sharded_safetensors" / s)) << s;
  // The index came before any shard, each shard once.
  std::size_t index_at = SIZE_MAX, first_shard_at = SIZE_MAX, i = 0, shard_heads = 0;
  const json all = server_->log();
  for (const auto& e : all["log"]) {
    const std::string p = e["path"];
    if (p.find("model.safetensors.index.json") != std::string::npos) index_at = std::min(index_at, i);
    if (p.find("-of-0000") != std::string::npos) {
      first_shard_at = std::min(first_shard_at, i);
      if (e["method"] == "HEAD") ++shard_heads;
    }
    ++i;
  }
  EXPECT_LT(index_at, first_shard_at);
  EXPECT_EQ(shard_heads, shards.size());
  // The snapshot loads offline by repo id, like after from_pretrained.
  setenv("HF_HUB_OFFLINE", "1", 1);
  auto by_id = AutoModelForMaskedLM::from_pretrained(repo);
  auto local = AutoModelForMaskedLM::from_pretrained((mlm / "sharded_safetensors").string());
  EXPECT_EQ(max_abs_diff(run_model(*by_id, mlm / "inputs.safetensors").get("logits"), run_model(*local, mlm / "inputs.safetensors").get("logits")), 0.0);
}

// ---- huggingface_hub itself (the pinned venv) on the same cache -------------------------
std::string tree(const fs::path& repo) {  // relative paths, symlink targets and refs contents
  std::vector<std::string> lines;
  for (auto it = fs::recursive_directory_iterator(repo); it != fs::recursive_directory_iterator(); ++it) {
    std::string l = fs::relative(it->path(), repo).generic_string();
    if (it->is_symlink()) l += " -> " + fs::read_symlink(it->path()).string();
    else if (it->is_regular_file() && l.rfind("refs/", 0) == 0) l += " = " + slurp(it->path());
    else if (it->is_regular_file()) l += " (" + std::to_string(fs::file_size(it->path())) + " bytes)";
    lines.push_back(l);
  }
  std::sort(lines.begin(), lines.end());
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

TEST_F(Hub, HuggingfaceHubReadsTheCacheHfxWroteAndTheReverse) {
  if (venv_python().empty()) GTEST_SKIP() << "tools/fixtures/.venv missing (run tools/fixtures/env.sh)";
  HubOptions v1;
  v1.revision = "v1.0";
  const std::string w_main = hf_hub_download(kRepo, "model.safetensors");
  const std::string c_main = hf_hub_download(kRepo, "config.json");
  const std::string w_v1 = hf_hub_download(kRepo, "model.safetensors", v1);
  (void)try_hf_hub_download(kRepo, "pytorch_model.bin");
  const std::string script = (tmp_.path() / "read.py").string();
  std::ofstream(script) << R"(import json, sys
from huggingface_hub import hf_hub_download, scan_cache_dir, try_to_load_from_cache
repo = sys.argv[1]
out = {
  "main": hf_hub_download(repo, "model.safetensors"),
  "config": hf_hub_download(repo, "config.json"),
  "v1": hf_hub_download(repo, "model.safetensors", revision="v1.0"),
  "no_exist": str(try_to_load_from_cache(repo, "pytorch_model.bin")),
}
info = scan_cache_dir()
out["warnings"] = [str(w) for w in info.warnings]
out["repos"] = [[r.repo_id, r.nb_files, sorted(sorted(v.refs) for v in r.revisions)] for r in info.repos]
print(json.dumps(out))
)";
  // 1. Python, offline, on the cache hfx wrote.
  Shell r = shell("HF_HUB_OFFLINE=1 " + venv_python() + " " + script + " " + kRepo);
  ASSERT_EQ(r.status, 0) << r.out;
  const json got = json::parse(r.out.substr(r.out.find('{')));
  EXPECT_EQ(got["main"], w_main);
  EXPECT_EQ(got["config"], c_main);
  EXPECT_EQ(got["v1"], w_v1);
  EXPECT_EQ(got["no_exist"].get<std::string>().rfind("<object object at", 0), 0u) << got.dump();  // _CACHED_NO_EXIST
  EXPECT_TRUE(got["warnings"].empty()) << got.dump();
  EXPECT_EQ(got["repos"], json::parse(R"([["hfx-test/tiny-bert", 3, [["main"], ["v1.0"]]]])")) << got.dump();
  // 2. Python, online against the same server, into a second cache; hfx reads it offline,
  //    and both caches hold the same tree (paths, symlink targets, refs, sizes).
  const std::string py_cache = (tmp_.path() / "py-cache").string();
  std::ofstream(tmp_.path() / "fetch.py") << R"(import sys
from huggingface_hub import hf_hub_download
for f in ["model.safetensors", "config.json"]:
    hf_hub_download(sys.argv[1], f)
hf_hub_download(sys.argv[1], "model.safetensors", revision="v1.0")
try:
    hf_hub_download(sys.argv[1], "pytorch_model.bin")
except Exception as e:
    print(type(e).__name__)
)";
  server_->clear_log();
  r = shell("HF_HUB_CACHE=" + py_cache + " " + venv_python() + " " + (tmp_.path() / "fetch.py").string() + " " + kRepo);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("EntryNotFoundError"), std::string::npos) << r.out;
  const json all = server_->log();
  for (const auto& e : all["log"])  // Python was served by the test server only
    EXPECT_TRUE(e["path"].get<std::string>().find("/hfx-test/tiny-bert/resolve/") == 0 || e["path"].get<std::string>().find("/cdn/") == 0) << e.dump();
  const fs::path py_repo = fs::path(py_cache) / repo_folder_name(kRepo);
  EXPECT_EQ(tree(py_repo), tree(storage()));
  setenv("HF_HUB_OFFLINE", "1", 1);
  HubOptions py;
  py.cache_dir = py_cache;
  EXPECT_EQ(slurp(hf_hub_download(kRepo, "model.safetensors", py)), slurp(kBert / "model.safetensors"));
  py.revision = "v1.0";
  EXPECT_EQ(slurp(hf_hub_download(kRepo, "model.safetensors", py)), slurp(kBert / "fp16/model.safetensors"));
  LoadOptions lo;
  lo.hub.cache_dir = py_cache;
  auto m = AutoModel::from_pretrained(kRepo, lo);
  EXPECT_EQ(m->class_name(), "BertModel");
}

TEST_F(Hub, HuggingfaceHubMakesTheSameMultipartCallsAsHfx) {
  if (venv_python().empty()) GTEST_SKIP() << "tools/fixtures/.venv missing (run tools/fixtures/env.sh)";
  setenv("HF_TOKEN", kToken, 1);
  server_->config({{"multipart_threshold", 1000}, {"chunk_size", 10000}});
  // Two folders alike but for their weights' bytes (an object already upstream is not sent again).
  auto make = [&](const std::string& name, char salt) {
    const fs::path d = tmp_.path() / name;
    fs::create_directories(d);
    std::ofstream(d / "config.json") << R"({"model_type": "bert"})";
    std::string big(25000, salt);
    for (std::size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>(i >> 2);
    std::ofstream(d / "weights.bin", std::ios::binary) << big;
    return d;
  };
  const fs::path py_dir = make("py", 'p'), hfx_dir = make("hfx", 'h');
  // The calls, with repo names and object ids made alike: method, path, host, token sent, Content-Type.
  auto calls = [&](const std::string& repo, const fs::path& dir) {
    std::vector<std::string> out;
    const std::string oid = hub::sha256_file((dir / "weights.bin").string());
    const json log = server_->log();
    for (const auto& e : log["log"]) {
      std::string p = e["path"].get<std::string>();
      p = p.substr(0, p.find('?'));
      for (const auto& [from, to] : {std::pair<std::string, std::string>{repo, "REPO"}, {oid, "OID"}})
        for (std::size_t at; (at = p.find(from)) != std::string::npos;) p.replace(at, from.size(), to);
      out.push_back(e["method"].get<std::string>() + " " + p + " " + e["host"].get<std::string>() + (e["authorization"].is_null() ? " -" : " token") +
                    " " + (e["content_type"].is_null() ? "" : e["content_type"].get<std::string>()) + " " + std::to_string(e["status"].get<int>()));
    }
    return out;
  };
  const std::string script = (tmp_.path() / "push.py").string();
  std::ofstream(script) << R"(import sys
from huggingface_hub import HfApi
api = HfApi()
api.create_repo(sys.argv[1], exist_ok=True)
api.upload_folder(folder_path=sys.argv[2], repo_id=sys.argv[1], commit_message="Upload model")
)";
  const Shell r = shell(venv_python() + " " + script + " hfx-test/py-multipart " + py_dir.string());
  ASSERT_EQ(r.status, 0) << r.out;
  const auto py = calls("hfx-test/py-multipart", py_dir);
  server_->clear_log();
  PushOptions po;
  po.commit_message = "Upload model";
  upload_folder(hfx_dir.string(), "hfx-test/hfx-multipart", po);
  const auto ours = calls("hfx-test/hfx-multipart", hfx_dir);
  EXPECT_EQ(ours, py);
  EXPECT_EQ(std::count_if(py.begin(), py.end(), [](const std::string& c) { return c.rfind("PUT /_lfs_part/OID/", 0) == 0; }), 3);
  // Both commits hold the bytes each side sent.
  unsetenv("HF_TOKEN");
  EXPECT_EQ(slurp(hf_hub_download("hfx-test/py-multipart", "weights.bin")), slurp(py_dir / "weights.bin"));
  EXPECT_EQ(slurp(hf_hub_download("hfx-test/hfx-multipart", "weights.bin")), slurp(hfx_dir / "weights.bin"));
}

// A repo id resolves what the task needs: tokenizer files, the sentence-transformers modules, generation_config.json,
// into the same cache, and offline mode then finds them there.
TEST_F(Hub, RepoIdBringsTokenizerSentenceModulesAndGenerationConfig) {
  const std::string repo = "hfx-test/tiny-st";
  const Tokenizer tok = AutoTokenizer::from_pretrained(repo);
  const Tokenizer local = AutoTokenizer::from_pretrained((fixtures_dir() / "sentence/bert-mean-norm").string());
  EXPECT_EQ(tok.encode("A man is eating food.").ids, local.encode("A man is eating food.").ids);
  EXPECT_TRUE(fs::exists(storage(repo) / "snapshots" / ref("main", repo) / "tokenizer.json"));
  EXPECT_FALSE(fs::exists(storage(repo) / "snapshots" / ref("main", repo) / "model.safetensors"));  // the tokenizer alone
  const auto st = SentenceTransformer::from_pretrained(repo);
  const auto st_local = SentenceTransformer::from_pretrained((fixtures_dir() / "sentence/bert-mean-norm").string());
  ASSERT_EQ(st.modules().size(), 2u);  // 1_Pooling/config.json came along
  EXPECT_EQ(st.max_seq_length(), 16);  // and sentence_bert_config.json
  const Tensor a = st.encode({"a b", "c"}), b = st_local.encode({"a b", "c"});
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a.item(i), b.item(i));
  // offline: the same from the cache, no request
  server_->clear_log();
  setenv("HF_HUB_OFFLINE", "1", 1);
  EXPECT_EQ(SentenceTransformer::from_pretrained(repo).modules().size(), 2u);
  EXPECT_EQ(AutoTokenizer::from_pretrained(repo).encode("c").ids, tok.encode("c").ids);
  EXPECT_TRUE(server_->log()["log"].empty()) << server_->log()["log"].dump();
  // offline, a repo never fetched: a NotFound naming offline mode
  expect_error([] { AutoTokenizer::from_pretrained("hfx-test/tiny-gpt2"); }, ErrorKind::NotFound, {"offline"});
  unsetenv("HF_HUB_OFFLINE");
  // generation_config.json and the GPT-2 tokenizer files through the CLI
  Shell r = shell(std::string(HFX_CLI_PATH) + " generate hfx-test/tiny-gpt2 --prompt 'Hello world' --max-new-tokens 3");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("text: Hello world"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(storage("hfx-test/tiny-gpt2") / "snapshots" / ref("main", "hfx-test/tiny-gpt2") / "generation_config.json"));
  r = shell(std::string(HFX_CLI_PATH) + " tokenize " + repo + " 'A man' --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(json::parse(r.out)["input_ids"], json(local.encode("A man").ids));
  r = shell(std::string(HFX_CLI_PATH) + " run " + repo + " --text 'A man' --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("last_hidden_state"), std::string::npos) << r.out;
}

TEST_F(Hub, CliDownloadIncludeExcludeGlobs) {
  Shell r = shell(std::string(HFX_CLI_PATH) + " download hfx-test/tiny-st --include '*.json' --exclude 'tokenizer*' --quiet");
  ASSERT_EQ(r.status, 0) << r.out;
  const fs::path snap = r.out.substr(0, r.out.size() - 1);
  EXPECT_TRUE(fs::exists(snap / "config.json"));
  EXPECT_TRUE(fs::exists(snap / "modules.json"));
  EXPECT_TRUE(fs::exists(snap / "1_Pooling/config.json"));  // '*' crosses '/', as fnmatch does
  EXPECT_FALSE(fs::exists(snap / "tokenizer.json"));
  EXPECT_FALSE(fs::exists(snap / "model.safetensors"));
  r = shell(std::string(HFX_CLI_PATH) + " download hfx-test/tiny-st --include '1_Pooling/' --quiet");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(filter_repo_files({"1_Pooling/config.json", "config.json", "a/b.bin"}, {"1_Pooling/", "*.bin"}, {}),
            (std::vector<std::string>{"1_Pooling/config.json", "a/b.bin"}));
  // offline: the listing is the cached snapshot's
  setenv("HF_HUB_OFFLINE", "1", 1);
  const RepoListing l = list_repo_files("hfx-test/tiny-st");
  EXPECT_NE(std::find(l.files.begin(), l.files.end(), "1_Pooling/config.json"), l.files.end());
  EXPECT_EQ(std::find(l.files.begin(), l.files.end(), "tokenizer.json"), l.files.end());
  unsetenv("HF_HUB_OFFLINE");
  r = shell(std::string(HFX_CLI_PATH) + " download hfx-test/tiny-st config.json --include '*.json' --quiet");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("not both"), std::string::npos) << r.out;
}

// A newcomer's first hour, from an empty cache against the local hub: every verb by repo id, then info on
// TF-only and Flax-only folders and on each weight file directly. Every step succeeds and its output is checked.
TEST_F(Hub, NewcomerTranscriptFromAnEmptyCache) {
  ASSERT_FALSE(fs::exists(cache()));
  const std::string hfx = HFX_CLI_PATH;
  const fs::path st_dir = fixtures_dir() / "sentence/bert-mean-norm";
  // embed: the model's pooling and Normalize came with it (equal to the local folder, which equals sentence-transformers)
  Shell r = shell(hfx + " embed hfx-test/tiny-st a b --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const json emb = json::parse(r.out);
  const Tensor want = SentenceTransformer::from_pretrained(st_dir.string()).encode({"a", "b"});
  ASSERT_EQ(emb["embeddings"].size(), 2u);
  for (int64_t k = 0; k < want.shape()[1]; ++k)
    EXPECT_FLOAT_EQ(emb["embeddings"][1][static_cast<std::size_t>(k)].get<float>(), static_cast<float>(want.item(want.shape()[1] + k)));
  EXPECT_NEAR(emb["similarity"][0][0].get<double>(), 1.0, 1e-6);
  // tokenize
  r = shell(hfx + " tokenize hfx-test/tiny-st 'A man is eating food.' --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(json::parse(r.out)["input_ids"], json(AutoTokenizer::from_pretrained(st_dir.string()).encode("A man is eating food.").ids));
  // run --text
  r = shell(hfx + " run hfx-test/tiny-st --text 'A man is eating food.' --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const json shape = json::parse(r.out)["outputs"]["last_hidden_state"]["shape"];
  const auto n_tokens = AutoTokenizer::from_pretrained(st_dir.string()).encode("A man is eating food.").ids.size();
  EXPECT_EQ(shape, json({1, static_cast<int64_t>(n_tokens), 32})) << r.out;
  // generate: greedy ids as transformers' generate gave them (tests/fixtures/tokenizers/cli-generate)
  const json ref = json::parse(slurp(fixtures_dir() / "tokenizers/cli-generate/expected_generate.json"));
  r = shell(hfx + " generate hfx-test/tiny-gpt2 --prompt '" + ref["prompt"].get<std::string>() + "' --max-new-tokens 5 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto greedy = ref["greedy"].get<std::vector<int64_t>>();
  EXPECT_EQ(json::parse(r.out)["ids"], json(std::vector<int64_t>(greedy.begin(), greedy.begin() + 10))) << r.out;
  // export to Flax, into --out
  TempDir work;
  r = shell(hfx + " export " + kRepo + " --to flax --out " + (work.path() / "D").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::exists(work.path() / "D/flax_model.msgpack"));
  EXPECT_TRUE(fs::exists(work.path() / "D/config.json"));
  // without --out: ./NAME-TO, for org/name and for a single-name id; never ./org, never the cache
  r = shell("cd " + work.path().string() + " && " + hfx + " export " + kRepo + " --to flax && " + hfx + " export tiny-single --to tf");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::exists(work.path() / "tiny-bert-flax/flax_model.msgpack")) << r.out;
  EXPECT_TRUE(fs::exists(work.path() / "tiny-single-tf/tf_model.h5")) << r.out;
  EXPECT_FALSE(fs::exists(work.path() / "hfx-test"));
  // info on a TF-only repo (auto-detected), TF-only and Flax-only folders, and each weight file directly
  r = shell(hfx + " info hfx-test/tf-only");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("tf_model.h5"), std::string::npos) << r.out;
  for (const char* f : {"tf_model.h5", "flax_model.msgpack"}) {
    const fs::path d = work.path() / (std::string("only-") + f);
    fs::create_directories(d);
    fs::copy_file(kBert / "config.json", d / "config.json");
    fs::copy_file(kBert / f, d / f);
    r = shell(hfx + " info " + d.string());
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("parameters:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find((d / f).string()), std::string::npos) << r.out;
  }
  for (const char* f : {"model.safetensors", "tf_model.h5", "flax_model.msgpack"}) {
    r = shell(hfx + " info " + (kBert / f).string());
    ASSERT_EQ(r.status, 0) << f << ": " << r.out;
    EXPECT_NE(r.out.find("model_type:   bert"), std::string::npos) << r.out;
  }
}

// transformers-cli pt-to-tf: the pull request's files load in transformers' TF class.
TEST_F(Hub, PtToTfOpensAPullRequestWithValidatedTfWeights) {
  TempDir work;
  const std::string local = (work.path() / "local").string();
  Shell r = shell("HF_TOKEN=" + std::string(kToken) + " " + HFX_CLI_PATH + " pt-to-tf --model-name hfx-test/pt-only --local-dir " + local +
                  " --extra-commit-description 'from the hfx test' --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const json j = json::parse(r.out.substr(r.out.find('{')));
  EXPECT_NE(j["pr_url"].get<std::string>().find("/discussions/"), std::string::npos) << r.out;
  EXPECT_LE(j["max_output_difference"].get<double>(), 5e-5);
  const auto commits = server_->requests("POST", "/commit/");
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0]["summary"], "Add TF weights");
  EXPECT_EQ(commits[0]["create_pr"], true);
  EXPECT_EQ(commits[0]["keys"].dump(), json::array({json::array({"lfsFile", "tf_model.h5"})}).dump());
  // the PR's files, as a user would fetch them, in the real TF class
  HubOptions pr;
  pr.revision = "refs/pr/1";
  const fs::path d = work.path() / "from-pr";
  fs::create_directories(d);
  fs::copy_file(hf_hub_download("hfx-test/pt-only", "tf_model.h5", pr), d / "tf_model.h5");
  fs::copy_file(hf_hub_download("hfx-test/pt-only", "config.json", pr), d / "config.json");
  hfx::testing::check_with_transformers(d, kBert, "tf");
  // --no-pr validates only; a wrong id is refused
  r = shell(std::string(HFX_CLI_PATH) + " pt-to-tf --model-name hfx-test/pt-only --no-pr --new-weights --local-dir " + (work.path() / "l2").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(server_->requests("POST", "/commit/").size(), 1u);
  r = shell(std::string(HFX_CLI_PATH) + " pt-to-tf --model-name just-a-name --no-pr");
  EXPECT_EQ(r.status, 17) << r.out;
}

}  // namespace
}  // namespace hfx
