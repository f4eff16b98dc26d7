// hfx serve (server.h): routes, errors, limits, metrics and the embedding batcher, over cpp-httplib.
// Request and response shapes follow text-embeddings-inference (router/src/http/types.rs, server.rs at
// huggingface/text-embeddings-inference@0d124dc): field names, defaults, error body {"error", "error_type"}
// and its status per error type (Validation/Tokenizer 422, Empty 400, Overloaded 429, Backend 424,
// Unhealthy 503); /v1/embeddings errors use TEI's OpenAI shape {"message", "code", "type"}.
#include "serve/server.h"

#include "serve/openapi.h"
#include "serve/page.h"

#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "hfx/auto.h"
#include "hfx/chat_template.h"
#include "hfx/config.h"
#include "hfx/error.h"
#include "hfx/generate.h"
#include "hfx/generate_stream.h"
#include "hfx/log.h"
#include "hfx/model.h"
#include "hfx/sentence.h"
#include "hfx/tokenizer.h"
#include "hfx/version.h"

namespace hfx::serve {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// An error a route answers with: TEI's ErrorType name and its status.
struct HttpError {
  int status;
  std::string type;  // Validation, Empty, Overloaded, Backend, Unhealthy, Tokenizer (TEI); Unauthorized, PayloadTooLarge, NotFound
  std::string message;
};
[[noreturn]] void fail(int status, const std::string& type, const std::string& msg) { throw HttpError{status, type, msg}; }
[[noreturn]] void validation(const std::string& msg) { fail(422, "Validation", "Input validation error: " + msg); }
[[noreturn]] void empty(const std::string& msg) { fail(400, "Empty", msg); }

enum class Kind { Embedding, Classifier, Reranker, Generator };

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Code points -> byte offsets of a UTF-8 string (tokenizers' Rust offsets, which TEI returns, are bytes).
std::vector<std::size_t> byte_offsets(const std::string& s) {
  std::vector<std::size_t> at;
  for (std::size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) at.push_back(i);
  at.push_back(s.size());
  return at;
}

// Shortest round-trip text of a float (serde's f32 output in TEI).
void append_float(std::string& out, float v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// F.normalize(p=2, eps=1e-12), computed as SentenceTransformer's Normalize module does (double accumulation).
void normalize_row(std::vector<float>& row) {
  double n = 0;
  for (float x : row) n += static_cast<double>(x) * x;
  const double d = std::max(std::sqrt(n), 1e-12);
  for (float& x : row) x = static_cast<float>(x / d);
}

// Every JSON the server writes: text it did not check (a parser's message quoting the body's bytes, a decode
// that ends inside a UTF-8 sequence, a label from config.json) has its invalid UTF-8 replaced by U+FFFD rather
// than throwing from inside an error path (schemathesis found a 500 that way).
std::string to_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

const json& field(const json& body, const char* name) {
  static const json null_value;
  auto it = body.find(name);
  return it == body.end() ? null_value : *it;
}
template <class T>
T get_or(const json& body, const char* name, T dflt) {
  const json& v = field(body, name);
  if (v.is_null()) return dflt;
  try {
    return v.get<T>();
  } catch (const json::exception&) {
    validation(std::string("`") + name + "` has the wrong type (" + v.type_name() + ")");
  }
}

// A list of texts: a string or a list of strings (/tokenize's `inputs`).
std::vector<std::string> text_inputs(const json& v, const char* name) {
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) validation(std::string("`") + name + "` must be a string or a list of strings");
  std::vector<std::string> out;
  for (const auto& e : v) {
    if (!e.is_string()) validation(std::string("`") + name + "` must be a string or a list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

// TEI's `inputs` / OpenAI's `input` (types.rs Input / InputType): a string, a list of token ids, or a list of
// either. One request holds texts or token ids, not both.
struct Inputs {
  std::vector<std::string> texts;
  std::vector<std::vector<int64_t>> ids;
  bool is_ids = false;
  std::size_t size() const { return is_ids ? ids.size() : texts.size(); }
};
std::vector<int64_t> id_list(const json& v, const char* name) {
  std::vector<int64_t> out;
  for (const auto& x : v) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > UINT32_MAX)
      validation(std::string("`") + name + "`: a token id must be an integer in [0, 2^32)");
    out.push_back(x.get<int64_t>());
  }
  return out;
}
Inputs embed_inputs(const json& v, const char* name) {
  const std::string shape = std::string("`") + name + "` must be a string, a list of token ids, or a list of strings or of token-id lists";
  Inputs in;
  if (v.is_string()) {
    in.texts.push_back(v.get<std::string>());
    return in;
  }
  if (!v.is_array()) validation(shape);
  if (!v.empty() && v[0].is_number()) {  // one input of token ids
    in.is_ids = true;
    in.ids.push_back(id_list(v, name));
    return in;
  }
  in.is_ids = !v.empty() && v[0].is_array();
  for (const auto& e : v) {
    if (in.is_ids ? !e.is_array() : !e.is_string()) {
      if (e.is_string() || e.is_array()) validation(std::string("`") + name + "` mixes texts and token ids; send one kind per request");
      validation(shape);
    }
    if (in.is_ids) in.ids.push_back(id_list(e, name));
    else in.texts.push_back(e.get<std::string>());
  }
  return in;
}

bool is_loopback(const std::string& host) { return host == "127.0.0.1" || host == "::1" || host == "localhost"; }

}  // namespace

struct Server::Impl {
  ServeOptions o;
  Kind kind = Kind::Embedding;
  std::optional<SentenceTransformer> st;  // Embedding
  std::unique_ptr<Model> classifier;      // Classifier / Reranker
  std::unique_ptr<Model> lm;              // Generator (*ForCausalLM, *LMHeadModel): /v1/completions
  std::optional<ChatTemplate> chat;       // Generator with a chat template: /v1/chat/completions
  std::string chat_error;                 // why the model's chat template could not be loaded
  std::optional<Tokenizer> tokenizer;     // untruncated, unpadded: /tokenize, /decode, the classifiers
  std::vector<std::string> labels;        // id2label in id order
  int64_t max_input_length = 0;
  std::string name;
  std::string pooling;  // /info's pooling
  int64_t created = 0;

  httplib::Server http;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> active{0};    // every request inside a handler
  std::atomic<int64_t> permits{0};   // inference requests in flight (the 429 bound)
  std::once_flag shutdown_once;
  std::mutex model_mu;               // classifier forwards (the embedding model is the batcher's alone)

  // The embedding batcher: requests queue their texts; one thread runs them, several requests per forward.
  struct Job {
    std::vector<std::string> texts;
    std::vector<std::vector<int64_t>> ids;  // token-id inputs (texts empty)
    bool is_ids = false;
    std::size_t size() const { return is_ids ? ids.size() : texts.size(); }
    std::string prompt_name;
    int64_t tokens = 0;
    std::promise<std::vector<std::vector<float>>> done;
  };
  std::mutex qmu;
  std::condition_variable qcv;
  std::deque<std::shared_ptr<Job>> queue;
  bool stop_batcher = false;
  std::thread batcher;

  // Metrics (prometheus-cpp).
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Family<prometheus::Histogram>* latency = nullptr;
  prometheus::Gauge* queue_depth = nullptr;
  prometheus::Gauge* in_flight = nullptr;
  prometheus::Histogram* batch_requests = nullptr;
  prometheus::Histogram* batch_texts = nullptr;
  prometheus::Histogram* batch_tokens = nullptr;
  prometheus::Counter* tokens_total = nullptr;

  explicit Impl(const ServeOptions& opts) : o(opts) {
    if (o.api_key.empty() && !o.allow_public && !is_loopback(o.host))
      throw_error(ErrorKind::Security, "refusing to serve on " + o.host + " without --api-key (pass --allow-public to do it anyway)");
    if (o.max_batch_tokens <= 0 || o.max_concurrent_requests <= 0 || o.max_client_batch_size <= 0 || o.max_body_bytes == 0)
      throw_error(ErrorKind::InvalidArgument, "max_batch_tokens, max_concurrent_requests, max_client_batch_size and max_body_bytes must be positive");
    name = o.served_model_name.empty() ? o.model : o.served_model_name;
    created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    load();
    setup_metrics();
    setup_routes();
    if (kind == Kind::Embedding) batcher = std::thread([this] { batch_loop(); });
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lk(qmu);
      stop_batcher = true;
    }
    qcv.notify_all();
    if (batcher.joinable()) batcher.join();
  }

  void load() {
    const Config cfg = Config::from_file((std::filesystem::path(o.model) / "config.json").string());
    std::string arch;
    if (const json* a = cfg.find("architectures"); a && a->is_array() && !a->empty() && (*a)[0].is_string()) arch = (*a)[0];
    const bool seq_cls = ends_with(arch, "ForSequenceClassification");
    tokenizer = AutoTokenizer::from_pretrained(o.model);
    tokenizer->set_truncation(std::nullopt);
    tokenizer->set_padding(std::nullopt);
    int64_t model_max = 0;
    if (seq_cls) {
      classifier = load_pretrained(o.model, arch).model;
      const int64_t n = classifier->config().num_labels();
      kind = n == 1 ? Kind::Reranker : Kind::Classifier;
      const json* id2label = classifier->config().find("id2label");
      for (int64_t i = 0; i < n; ++i) {
        const std::string k = std::to_string(i);
        labels.push_back(id2label && id2label->is_object() && id2label->contains(k) && (*id2label)[k].is_string() ? (*id2label)[k].get<std::string>()
                                                                                                              : "LABEL_" + k);
      }
      model_max = cfg.get<int64_t>("max_position_embeddings", 512);
      const std::string mt = cfg.model_type();
      if (mt == "roberta" || mt == "xlm-roberta" || mt == "camembert") model_max -= 2;  // positions start after padding_idx
    } else if (ends_with(arch, "ForCausalLM") || ends_with(arch, "LMHeadModel")) {
      lm = load_pretrained(o.model, arch).model;
      kind = Kind::Generator;
      try {
        chat = ChatTemplate::from_pretrained(o.model);
      } catch (const Error& e) {  // the server still serves /v1/completions; the chat route says why it cannot
        chat_error = std::string("this model's chat template cannot be used: ") + e.what();
        log_warning(chat_error);
      }
      model_max = cfg.get<int64_t>("max_position_embeddings", cfg.get<int64_t>("n_positions", 0));
    } else {
      st = SentenceTransformer::from_pretrained(o.model);
      kind = Kind::Embedding;
      model_max = st->max_seq_length();
      for (const auto& m : st->modules())
        if (m.kind == SentenceModule::Kind::Pooling && !m.modes.empty()) pooling = m.modes[0] == "lasttoken" ? "last_token" : m.modes[0];
      if (pooling.empty()) pooling = "mean";
    }
    max_input_length = o.max_input_length > 0 ? o.max_input_length : model_max;
    if (model_max > 0 && max_input_length > model_max) {
      log_warning("max_input_length " + std::to_string(max_input_length) + " is above the model's " + std::to_string(model_max) +
                  "; using " + std::to_string(model_max));
      max_input_length = model_max;
    }
    if (max_input_length <= 0) max_input_length = 512;
  }

  void setup_metrics() {
    requests = &prometheus::BuildCounter().Name("hfx_serve_requests_total").Help("HTTP requests by route and status").Register(*registry);
    latency = &prometheus::BuildHistogram().Name("hfx_serve_request_duration_seconds").Help("request latency by route").Register(*registry);
    queue_depth = &prometheus::BuildGauge().Name("hfx_serve_queue_depth").Help("embedding requests waiting for the batcher").Register(*registry).Add({});
    in_flight = &prometheus::BuildGauge().Name("hfx_serve_requests_in_flight").Help("inference requests holding a permit").Register(*registry).Add({});
    const prometheus::Histogram::BucketBoundaries counts = {1, 2, 4, 8, 16, 32, 64, 128, 256};
    batch_requests = &prometheus::BuildHistogram().Name("hfx_serve_batch_requests").Help("requests per forward").Register(*registry).Add({}, counts);
    batch_texts = &prometheus::BuildHistogram().Name("hfx_serve_batch_size").Help("inputs per forward").Register(*registry).Add({}, counts);
    batch_tokens = &prometheus::BuildHistogram()
                        .Name("hfx_serve_batch_tokens")
                        .Help("tokens per forward")
                        .Register(*registry)
                        .Add({}, prometheus::Histogram::BucketBoundaries{16, 64, 256, 1024, 4096, 16384, 65536});
    tokens_total = &prometheus::BuildCounter().Name("hfx_serve_tokens_total").Help("input tokens computed").Register(*registry).Add({});
  }

  // ---- the request wrapper: draining, auth, the permit bound, errors, metrics ----------------------------------
  enum Flags { kPublic = 1, kInference = 2 };
  // The one rule for the error shape: OpenAI's under /v1/, TEI's elsewhere (routes, unrouted requests, the net).
  static bool openai_shape(const std::string& path) { return path.rfind("/v1/", 0) == 0; }

  bool authorized(const httplib::Request& req) const {
    if (o.api_key.empty()) return true;
    const std::string want = "Bearer " + o.api_key;
    const std::string got = req.get_header_value("Authorization");
    // Constant-time in the key's bytes (OpenSSL's CRYPTO_memcmp); only the length can differ in timing.
    return got.size() == want.size() && CRYPTO_memcmp(got.data(), want.data(), want.size()) == 0;
  }

  void write_error(httplib::Response& res, const HttpError& e, bool openai) {
    res.status = e.status;
    json body = openai ? json{{"message", e.message}, {"code", e.status}, {"type", e.type}} : json{{"error", e.message}, {"error_type", e.type}};
    if (e.status == 429) res.set_header("Retry-After", "1");
    if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
    res.set_content(to_json(body), "application/json");
  }

  // An inference request's permit; a streamed response keeps a reference until its last chunk.
  struct Permit {
    Impl* s;
    ~Permit() {
      s->permits.fetch_sub(1);
      s->in_flight->Decrement();
    }
  };
  static std::shared_ptr<Permit>& current_permit() {  // the permit of the request this thread is handling
    static thread_local std::shared_ptr<Permit> p;
    return p;
  }

  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  Handler wrap(const std::string& route, int flags, Handler h) {
    const bool openai = openai_shape(route);
    return [this, route, flags, openai, h](const httplib::Request& req, httplib::Response& res) {
      const auto t0 = Clock::now();
      ++active;
      std::shared_ptr<Permit> permit;
      try {
        if (draining_) fail(503, "Unhealthy", "the server is shutting down");
        if (!(flags & kPublic) && !authorized(req)) fail(401, "Unauthorized", "missing or wrong API key (Authorization: Bearer KEY)");
        if (flags & kInference) {
          if (permits.fetch_add(1) >= o.max_concurrent_requests) {
            permits.fetch_sub(1);
            fail(429, "Overloaded", "Model is overloaded");
          }
          in_flight->Increment();
          permit.reset(new Permit{this});  // (make_shared of a Permit temporary would run its destructor twice)
          current_permit() = permit;
        }
        res.status = 200;
        h(req, res);
      } catch (const HttpError& e) {
        write_error(res, e, openai);
      } catch (const json::exception& e) {
        write_error(res, {422, "Validation", std::string("Input validation error: ") + e.what()}, openai);
      } catch (const Error& e) {
        // A caller's input the library refused (a prompt name, a text with no tokens): 422; anything else is
        // the model's failure: TEI's Backend (424).
        const bool input = e.kind() == ErrorKind::InvalidArgument || e.kind() == ErrorKind::Format;
        write_error(res, {input ? 422 : 424, input ? "Validation" : "Backend", e.what()}, openai);
      } catch (const std::exception& e) {
        write_error(res, {500, "Backend", e.what()}, openai);
      }
      current_permit().reset();
      permit.reset();
      requests->Add({{"route", route}, {"status", std::to_string(res.status)}}).Increment();
      latency
          ->Add({{"route", route}},
                prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})
          .Observe(std::chrono::duration<double>(Clock::now() - t0).count());
      --active;
    };
  }

  static json parse_body(const httplib::Request& req) {
    try {
      return json::parse(req.body);
    } catch (const json::parse_error& e) {
      fail(400, "Validation", std::string("the body is not JSON: ") + e.what());
    }
  }
  static json parse_object(const httplib::Request& req) {
    json b = parse_body(req);
    if (!b.is_object()) validation("the body must be a JSON object");
    return b;
  }

  void check_batch(std::size_t n, const char* what) const {
    if (n == 0) empty(std::string("`") + what + "` cannot be empty");
    if (static_cast<int64_t>(n) > o.max_client_batch_size)
      validation("batch size " + std::to_string(n) + " > maximum allowed batch size " + std::to_string(o.max_client_batch_size));
  }

  // ---- embeddings -----------------------------------------------------------------------------------------------
  struct Embedded {
    std::vector<std::vector<float>> rows;
    int64_t tokens = 0;
  };

  Embedded embed(Inputs in, bool truncate, const std::string& prompt_name, bool normalize, std::optional<int64_t> dimensions) {
    if (kind != Kind::Embedding) fail(424, "Backend", "Backend error: model is not an embedding model");
    if (prompt_name.size() && !st->prompts().count(prompt_name)) {
      std::string known;
      for (const auto& [k, v] : st->prompts()) known += (known.empty() ? "" : ", ") + k;
      validation("prompt_name '" + prompt_name + "' is not in the model's prompts (" + (known.empty() ? "none" : known) + ")");
    }
    if (dimensions && *dimensions <= 0) validation("`dimensions` should be positive");
    if (in.is_ids && !prompt_name.empty()) validation("prompt_name applies to texts, not to token ids");
    // Token counts before truncation: a longer input is refused unless truncate is set (TEI's auto_truncate=false).
    std::vector<int64_t> counts;
    if (in.is_ids) {
      for (auto& row : in.ids) {
        if (row.empty()) empty("an input has no token ids");
        counts.push_back(static_cast<int64_t>(row.size()));
        if (truncate && static_cast<int64_t>(row.size()) > max_input_length) row.resize(static_cast<std::size_t>(max_input_length));
      }
    } else {
      EncodeOptions count_opts;
      count_opts.prompt_name = prompt_name;
      count_opts.max_seq_length = int64_t{1} << 40;
      counts = st->token_counts(in.texts, count_opts);
    }
    Embedded out;
    for (int64_t c : counts) {
      if (c > max_input_length && !truncate)
        validation("`inputs` must have less than " + std::to_string(max_input_length) + " tokens. Given: " + std::to_string(c));
      out.tokens += std::min(c, max_input_length);
    }
    auto job = std::make_shared<Job>();
    job->texts = std::move(in.texts);
    job->ids = std::move(in.ids);
    job->is_ids = in.is_ids;
    job->prompt_name = prompt_name;
    job->tokens = out.tokens;
    auto fut = job->done.get_future();
    {
      std::lock_guard<std::mutex> lk(qmu);
      queue.push_back(job);
      queue_depth->Set(static_cast<double>(queue.size()));
    }
    qcv.notify_one();
    out.rows = fut.get();  // rethrows the batch's error
    for (auto& row : out.rows) {
      if (dimensions) {
        if (*dimensions > static_cast<int64_t>(row.size())) validation("`dimensions` should be smaller than the maximum embedding dimension.");
        row.resize(static_cast<std::size_t>(*dimensions));
      }
      if (normalize) normalize_row(row);
    }
    tokens_total->Increment(static_cast<double>(out.tokens));
    return out;
  }

  // One forward per batch: queued jobs with the same prompt, up to max_batch_tokens (a larger job runs alone).
  // Every job's texts use the same options (truncated to max_input_length, which validation already
  // enforced on untruncated ones), so a text's embedding does not depend on which batch it ran in beyond
  // the padding of its batch.
  void batch_loop() {
    for (;;) {
      std::vector<std::shared_ptr<Job>> jobs;
      {
        std::unique_lock<std::mutex> lk(qmu);
        qcv.wait(lk, [&] { return stop_batcher || !queue.empty(); });
        if (queue.empty()) return;  // stop_batcher
        if (o.batch_wait_ms > 0) {
          const auto until = Clock::now() + std::chrono::milliseconds(o.batch_wait_ms);
          qcv.wait_until(lk, until, [&] {
            int64_t t = 0;
            for (const auto& j : queue) t += j->tokens;
            return stop_batcher || t >= o.max_batch_tokens;
          });
        }
        int64_t tokens = 0;
        const std::string prompt = queue.front()->prompt_name;
        const bool is_ids = queue.front()->is_ids;
        for (auto it = queue.begin(); it != queue.end();) {
          if ((*it)->prompt_name == prompt && (*it)->is_ids == is_ids && (jobs.empty() || tokens + (*it)->tokens <= o.max_batch_tokens)) {
            tokens += (*it)->tokens;
            jobs.push_back(*it);
            it = queue.erase(it);
          } else {
            ++it;
          }
        }
        queue_depth->Set(static_cast<double>(queue.size()));
      }
      std::vector<std::string> texts;
      std::vector<std::vector<int64_t>> ids;
      int64_t tokens = 0;
      for (const auto& j : jobs) {
        texts.insert(texts.end(), j->texts.begin(), j->texts.end());
        ids.insert(ids.end(), j->ids.begin(), j->ids.end());
        tokens += j->tokens;
      }
      try {
        EncodeOptions eo;
        eo.prompt_name = jobs[0]->prompt_name;
        eo.normalize = false;  // each request says whether it wants unit vectors (TEI's `normalize`)
        eo.max_seq_length = max_input_length;
        eo.batch_size = 0;  // one forward
        const Tensor e = jobs[0]->is_ids ? st->encode_ids(ids, eo) : st->encode(texts, eo);
        const int64_t D = e.shape()[1];
        const float* d = e.data<float>();
        std::size_t r = 0;
        for (const auto& j : jobs) {
          std::vector<std::vector<float>> rows;
          for (std::size_t k = 0; k < j->size(); ++k, ++r) rows.emplace_back(d + r * static_cast<std::size_t>(D), d + (r + 1) * static_cast<std::size_t>(D));
          j->done.set_value(std::move(rows));
        }
      } catch (...) {
        for (const auto& j : jobs) j->done.set_exception(std::current_exception());
      }
      batch_requests->Observe(static_cast<double>(jobs.size()));
      batch_texts->Observe(static_cast<double>(texts.size() + ids.size()));
      batch_tokens->Observe(static_cast<double>(tokens));
    }
  }

  static std::string embeddings_json(const std::vector<std::vector<float>>& rows) {
    std::string s = "[";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      s += i ? ",[" : "[";
      for (std::size_t k = 0; k < rows[i].size(); ++k) {
        if (k) s += ',';
        append_float(s, rows[i][k]);
      }
      s += ']';
    }
    return s + "]";
  }

  // ---- OpenAI /v1/completions and /v1/chat/completions (one prompt, one choice; one request at a time) ----------
  // The sampling fields both routes share: max_tokens (chat: max_completion_tokens first), temperature, top_p,
  // stop, seed, n (1 only). `default_max` is max_tokens when the request gives none.
  struct Sampling {
    GenerationConfig g;
    std::vector<std::string> stops;
  };
  Sampling sampling(const json& b, int64_t S, std::optional<int64_t> default_max, bool chat_shape) {
    if (get_or<int64_t>(b, "n", 1) != 1) validation("`n` must be 1");
    const char* max_field = chat_shape && !field(b, "max_completion_tokens").is_null() ? "max_completion_tokens" : "max_tokens";
    const int64_t room = max_input_length - S;
    if (room < 1)
      validation("this model's maximum context length is " + std::to_string(max_input_length) + " tokens; the prompt has " + std::to_string(S));
    const int64_t max_tokens = field(b, max_field).is_null() ? default_max.value_or(room) : get_or<int64_t>(b, max_field, 16);
    if (max_tokens < 1) validation(std::string("`") + max_field + "` must be at least 1");
    if (S + max_tokens > max_input_length)
      validation("this model's maximum context length is " + std::to_string(max_input_length) + " tokens; the prompt has " +
                 std::to_string(S) + " and " + max_field + " asks for " + std::to_string(max_tokens));
    const double temperature = get_or<double>(b, "temperature", 1.0), top_p = get_or<double>(b, "top_p", 1.0);
    if (temperature < 0 || temperature > 2) validation("`temperature` must be in [0, 2]");
    if (top_p <= 0 || top_p > 1) validation("`top_p` must be in (0, 1]");
    Sampling r;
    const json& st_field = field(b, "stop");
    if (st_field.is_string()) r.stops.push_back(st_field);
    else if (st_field.is_array())
      for (const auto& x : st_field) {
        if (!x.is_string()) validation("`stop` must be a string or a list of strings");
        r.stops.push_back(x);
      }
    else if (!st_field.is_null()) validation("`stop` must be a string or a list of strings");
    if (r.stops.size() > 4) validation("`stop` takes at most 4 sequences");
    GenerationConfig& g = r.g;
    g = GenerationConfig::from_model(*lm);
    g.max_new_tokens = max_tokens;
    g.min_new_tokens = 0;
    g.num_beams = 1;
    g.num_return_sequences = 1;
    g.do_sample = temperature > 0;  // OpenAI: temperature 0 is greedy
    g.temperature = static_cast<float>(temperature > 0 ? temperature : 1.0);
    g.top_p = static_cast<float>(top_p);
    g.top_k = 0;  // OpenAI has no top-k
    g.seed = field(b, "seed").is_null() ? std::random_device{}() : get_or<uint64_t>(b, "seed", 0);
    return r;
  }

  void route_completions(const httplib::Request& req, httplib::Response& res) {
    if (kind != Kind::Generator) fail(424, "Backend", "Backend error: model is not a text generation model");
    const json b = parse_object(req);
    std::string prompt;
    const json& p = field(b, "prompt");
    if (p.is_string()) prompt = p;
    else if (p.is_array() && p.size() == 1 && p[0].is_string()) prompt = p[0];
    else validation("`prompt` must be a string (one prompt per request)");
    const std::vector<int64_t> ids = tokenizer->encode(prompt).ids;
    if (ids.empty()) validation("`prompt` gives no tokens");
    complete(res, b, ids, /*chat=*/false);
  }

  // POST /v1/chat/completions: the messages rendered by the model's chat template (hfx::ChatTemplate, as
  // transformers' apply_chat_template with add_generation_prompt=True and the special tokens), tokenized without
  // adding special tokens again (the template wrote them), then generated as /v1/completions does.
  void route_chat_completions(const httplib::Request& req, httplib::Response& res) {
    if (kind != Kind::Generator) fail(424, "Backend", "Backend error: model is not a text generation model");
    const json b = parse_object(req);
    if (!chat)
      fail(400, "Validation", chat_error.empty() ? "this model has no chat template (tokenizer_config.json `chat_template` or chat_template.jinja); use /v1/completions"
                                                 : chat_error);
    // The messages and tools again as ordered JSON: templates see a dict's keys in the order the client sent them.
    const auto ob = nlohmann::ordered_json::parse(req.body);
    const auto& messages = ob.contains("messages") ? ob["messages"] : nlohmann::ordered_json();
    if (!messages.is_array() || messages.empty()) validation("`messages` must be a non-empty list of messages");
    for (const auto& m : messages) {
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) validation("each message must be an object with a string `role`");
      if (m.contains("content") && !m["content"].is_string() && !m["content"].is_array() && !m["content"].is_null())
        validation("a message's `content` must be a string, a list of content parts or null");
    }
    nlohmann::ordered_json tools;
    if (ob.contains("tools") && !ob["tools"].is_null()) {
      if (!ob["tools"].is_array()) validation("`tools` must be a list");
      tools = ob["tools"];
    }
    std::string prompt;
    try {
      prompt = chat->apply(messages, get_or<bool>(b, "add_generation_prompt", true), tools);
    } catch (const ChatTemplateError& e) {  // the template refused the conversation (raise_exception)
      fail(400, "Validation", "the chat template refused the messages: " + e.message());
    } catch (const Error& e) {
      fail(400, "Validation", std::string("the chat template could not render the messages: ") + e.what());
    }
    const std::vector<int64_t> ids = tokenizer->encode(prompt, std::nullopt, /*add_special_tokens=*/false).ids;
    if (ids.empty()) validation("the rendered chat gives no tokens");
    complete(res, b, ids, /*chat=*/true);
  }

  void complete(httplib::Response& res, const json& b, const std::vector<int64_t>& ids, bool chat_shape) {
    const int64_t S = static_cast<int64_t>(ids.size());
    const bool stream = get_or<bool>(b, "stream", false);
    const Sampling sm = sampling(b, S, chat_shape ? std::nullopt : std::optional<int64_t>(16), chat_shape);  // OpenAI's defaults
    const GenerationConfig& g = sm.g;
    const Tensor in_ids = Tensor::from_vector(DType::I64, {1, S}, ids), mask = Tensor::from_vector(DType::I64, {1, S}, std::vector<int64_t>(ids.size(), 1));
    const std::string id = (chat_shape ? "chatcmpl-" : "cmpl-") + std::to_string(created) + "-" + std::to_string(completions++);
    if (stream) {
      validate_generation_config(g);  // refusals before the 200 and its headers go out
      stream_completion(res, id, in_ids, mask, g, sm.stops, S, chat_shape);
      return;
    }
    Tensor out;
    {
      std::lock_guard<std::mutex> lk(model_mu);
      out = generate(*lm, in_ids, mask, g);
    }
    std::vector<int64_t> gen;
    std::string finish = "length";
    for (int64_t i = S; i < out.numel(); ++i) {
      const auto t = static_cast<int64_t>(out.item(i));
      gen.push_back(t);
      if (g.eos_token_id && t == *g.eos_token_id) {
        finish = "stop";
        break;
      }
    }
    std::string text = tokenizer->decode(gen, true);
    std::size_t cut = std::string::npos;
    for (const auto& stop : sm.stops)
      if (!stop.empty()) cut = std::min(cut, text.find(stop));
    if (cut != std::string::npos) {
      text.resize(cut);
      finish = "stop";
    }
    const int64_t n_gen = static_cast<int64_t>(gen.size());
    tokens_total->Increment(static_cast<double>(S + n_gen));
    const json choice = chat_shape ? json{{"index", 0}, {"message", {{"role", "assistant"}, {"content", text}}}, {"logprobs", nullptr}, {"finish_reason", finish}}
                                   : json{{"text", text}, {"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish}};
    const json r = {{"id", id},
                    {"object", chat_shape ? "chat.completion" : "text_completion"},
                    {"created", std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count()},
                    {"model", name},
                    {"choices", json::array({choice})},
                    {"usage", {{"prompt_tokens", S}, {"completion_tokens", n_gen}, {"total_tokens", S + n_gen}}}};
    res.set_content(to_json(r), "application/json");
  }
  std::atomic<int64_t> completions{0};

  // stream: true — server-sent events as OpenAI sends them: one `data: {chunk}` per text delta, a last chunk with
  // finish_reason, then `data: [DONE]`. Completions send text_completion chunks ({"text"}); chat sends
  // chat.completion.chunk ({"delta"}: the first one carries the role). The permit and the drain count are held until
  // the last chunk; a client that goes away ends the generation at the next token.
  void stream_completion(httplib::Response& res, const std::string& id, const Tensor& in_ids, const Tensor& mask, const GenerationConfig& g,
                         const std::vector<std::string>& stops, int64_t prompt_tokens, bool chat_shape) {
    std::shared_ptr<Permit> permit = current_permit();
    ++active;
    std::shared_ptr<void> active_hold(nullptr, [this](void*) { --active; });
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider("text/event-stream", [this, permit, active_hold, id, in_ids, mask, g, stops, prompt_tokens, chat_shape](std::size_t, httplib::DataSink& sink) {
      const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
      auto send = [&](const std::string& line) { return sink.write(line.data(), line.size()); };
      bool role_sent = false;
      auto chunk = [&](const std::string& delta, const json& finish) {
        json choice;
        if (chat_shape) {
          json d = json::object();
          if (!role_sent) d["role"] = "assistant";
          if (!delta.empty() || !role_sent) d["content"] = delta;
          role_sent = true;
          choice = {{"index", 0}, {"delta", d}, {"logprobs", nullptr}, {"finish_reason", finish}};
        } else {
          choice = {{"text", delta}, {"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish}};
        }
        const json c = {{"id", id}, {"object", chat_shape ? "chat.completion.chunk" : "text_completion"}, {"created", now}, {"model", name},
                        {"choices", json::array({choice})}};
        return send("data: " + to_json(c) + "\n\n");
      };
      bool client = true;
      if (chat_shape) client = chunk("", nullptr);  // the role first, as OpenAI does
      std::vector<int64_t> gen;
      std::string sent, finish = "length";
      bool stopped = false;
      try {
        std::lock_guard<std::mutex> lk(model_mu);
        if (client)
          generate_streaming(*lm, in_ids, mask, g, [&](int64_t t) {
            if (g.eos_token_id && t == *g.eos_token_id) {
              finish = "stop";
              return false;
            }
            gen.push_back(t);
            std::string text = tokenizer->decode(gen, true);
            for (const auto& stop : stops)
              if (const auto at = stop.empty() ? std::string::npos : text.find(stop); at != std::string::npos) {
                text.resize(at);
                finish = "stop";
                stopped = true;
              }
            // A token that ends inside a UTF-8 sequence decodes to U+FFFD: wait for the rest.
            const bool partial = !stopped && text.size() >= 3 && text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") == 0;
            if (!partial && text.size() > sent.size() && text.compare(0, sent.size(), sent) == 0) {
              client = chunk(text.substr(sent.size()), nullptr);
              sent = text;
            }
            return client && !stopped;
          });
      } catch (const std::exception& e) {  // the status is already sent: say it in the stream
        client = send("data: " + to_json({{"error", {{"message", e.what()}, {"type", "Backend"}}}}) + "\n\n");
        finish = "error";
      }
      tokens_total->Increment(static_cast<double>(prompt_tokens + static_cast<int64_t>(gen.size())));
      if (!client) return false;  // the client went away
      if (finish != "error") chunk("", finish);
      send("data: [DONE]\n\n");
      sink.done();
      return true;
    });
  }

  void route_embed(const httplib::Request& req, httplib::Response& res) {
    const json b = parse_object(req);
    if (!b.contains("inputs")) validation("missing field `inputs`");
    Inputs in = embed_inputs(b["inputs"], "inputs");
    check_batch(in.size(), "inputs");
    const std::string dir = get_or<std::string>(b, "truncation_direction", "Right");
    if (dir != "Right" && dir != "right" && dir != "Left" && dir != "left") validation("`truncation_direction` must be Right or Left");
    const bool truncate = get_or<bool>(b, "truncate", false);
    if (truncate && (dir == "Left" || dir == "left")) validation("truncation_direction Left is not supported by hfx serve");
    std::optional<int64_t> dims;
    if (!field(b, "dimensions").is_null()) dims = get_or<int64_t>(b, "dimensions", 0);
    const Embedded e = embed(std::move(in), truncate, get_or<std::string>(b, "prompt_name", ""), get_or<bool>(b, "normalize", true), dims);
    res.set_header("x-prompt-tokens", std::to_string(e.tokens));
    res.set_content(embeddings_json(e.rows), "application/json");
  }

  void route_openai_embeddings(const httplib::Request& req, httplib::Response& res) {
    const json b = parse_object(req);
    if (!b.contains("input")) validation("missing field `input`");
    Inputs in = embed_inputs(b["input"], "input");
    check_batch(in.size(), "input");
    const std::string format = get_or<std::string>(b, "encoding_format", "float");
    if (format != "float" && format != "base64") validation("`encoding_format` must be float or base64");
    std::optional<int64_t> dims;
    if (!field(b, "dimensions").is_null()) dims = get_or<int64_t>(b, "dimensions", 0);
    const Embedded e = embed(std::move(in), false, "", true, dims);
    std::string s = "{\"object\":\"list\",\"data\":[";
    for (std::size_t i = 0; i < e.rows.size(); ++i) {
      s += i ? ",{" : "{";
      s += "\"object\":\"embedding\",\"embedding\":";
      if (format == "float") {
        s += "[";
        for (std::size_t k = 0; k < e.rows[i].size(); ++k) {
          if (k) s += ',';
          append_float(s, e.rows[i][k]);
        }
        s += "]";
      } else {  // the little-endian float32 bytes, base64 (OpenAI's encoding_format=base64), by OpenSSL
        const auto& row = e.rows[i];
        std::string b64(4 * ((row.size() * 4 + 2) / 3) + 1, '\0');
        const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), reinterpret_cast<const unsigned char*>(row.data()),
                                      static_cast<int>(row.size() * 4));
        b64.resize(static_cast<std::size_t>(n));
        s += to_json(b64);
      }
      s += ",\"index\":" + std::to_string(i) + "}";
    }
    s += "],\"model\":" + to_json(name) + ",\"usage\":{\"prompt_tokens\":" + std::to_string(e.tokens) +
         ",\"total_tokens\":" + std::to_string(e.tokens) + "}}";
    res.set_content(s, "application/json");
  }

  // ---- classifiers ----------------------------------------------------------------------------------------------
  // Scores of one text or pair: one forward each (no padding: a decoder classifier pools the last real token).
  std::vector<float> classify(const std::string& a, const std::optional<std::string>& b, bool truncate, bool raw, int64_t& tokens) {
    Tokenizer tok = *tokenizer;
    const Encoding full = b ? tok.encode(a, std::string_view(*b)) : tok.encode(a);
    Encoding enc = full;
    if (static_cast<int64_t>(full.ids.size()) > max_input_length) {
      if (!truncate)
        validation("`inputs` must have less than " + std::to_string(max_input_length) + " tokens. Given: " + std::to_string(full.ids.size()));
      TruncationParams tp;
      tp.max_length = max_input_length;
      tok.set_truncation(tp);
      enc = b ? tok.encode(a, std::string_view(*b)) : tok.encode(a);
    }
    tokens += static_cast<int64_t>(enc.ids.size());
    const int64_t S = static_cast<int64_t>(enc.ids.size());
    ModelInputs in;
    in.input_ids = Tensor::from_vector(DType::I64, {1, S}, enc.ids);
    in.attention_mask = Tensor::from_vector(DType::I64, {1, S}, enc.attention_mask);
    if (classifier->config().get<int64_t>("type_vocab_size", 0) > 0) in.token_type_ids = Tensor::from_vector(DType::I64, {1, S}, enc.type_ids);
    Tensor logits;
    {
      std::lock_guard<std::mutex> lk(model_mu);
      logits = classifier->forward(in).get("logits").to(DType::F32).contiguous();
    }
    std::vector<float> s(logits.data<float>(), logits.data<float>() + logits.numel());
    for (float v : s)
      if (std::isnan(v)) fail(424, "Backend", "score is NaN");
    if (!raw) {  // TEI's Infer::predict: softmax over several labels, sigmoid of a single one
      if (s.size() > 1) {
        const float mx = *std::max_element(s.begin(), s.end());
        double den = 0;
        for (float& v : s) den += (v = std::exp(v - mx));
        for (float& v : s) v = static_cast<float>(v / den);
      } else {
        s[0] = 1.0f / (1.0f + std::exp(-s[0]));
      }
    }
    return s;
  }

  std::string predictions_json(const std::vector<float>& scores) const {
    std::vector<std::size_t> order(scores.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return scores[x] > scores[y]; });
    std::string s = "[";
    for (std::size_t i = 0; i < order.size(); ++i) {
      s += i ? ",{\"score\":" : "{\"score\":";
      append_float(s, scores[order[i]]);
      s += ",\"label\":" + to_json(labels[order[i]]) + "}";
    }
    return s + "]";
  }

  void route_predict(const httplib::Request& req, httplib::Response& res) {
    if (kind != Kind::Classifier && kind != Kind::Reranker) fail(424, "Backend", "Backend error: model is not a classifier model");
    const json b = parse_object(req);
    if (!b.contains("inputs")) validation("missing field `inputs`");
    const json& in = b["inputs"];
    const bool truncate = get_or<bool>(b, "truncate", false), raw = get_or<bool>(b, "raw_scores", false);
    using Seq = std::pair<std::string, std::optional<std::string>>;
    const char* shape = "`inputs` must be a string, a pair of strings [string, string] or a batch [[string], [string, string], ...]";
    auto seq = [&](const json& v) -> Seq {
      if (!v.is_array() || v.empty() || v.size() > 2) validation(shape);
      for (const auto& x : v)
        if (!x.is_string()) validation(shape);
      return v.size() == 1 ? Seq{v[0], std::nullopt} : Seq{v[0], v[1].get<std::string>()};
    };
    std::vector<Seq> batch;
    bool single = true;
    if (in.is_string()) {
      batch.push_back({in.get<std::string>(), std::nullopt});
    } else if (in.is_array() && !in.empty() && in[0].is_string()) {
      batch.push_back(seq(in));
    } else if (in.is_array()) {
      single = false;
      for (const auto& v : in) batch.push_back(seq(v));
      check_batch(batch.size(), "inputs");
    } else {
      validation(shape);
    }
    int64_t tokens = 0;
    std::string s = single ? "" : "[";
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (i) s += ',';
      s += predictions_json(classify(batch[i].first, batch[i].second, truncate, raw, tokens));
    }
    if (!single) s += "]";
    tokens_total->Increment(static_cast<double>(tokens));
    res.set_content(s, "application/json");
  }

  void route_rerank(const httplib::Request& req, httplib::Response& res) {
    const json b = parse_object(req);
    if (!b.contains("query") || !b["query"].is_string()) validation("`query` must be a string");
    if (!b.contains("texts") || !b["texts"].is_array()) validation("`texts` must be a list of strings");
    std::vector<std::string> texts;
    for (const auto& t : b["texts"]) {
      if (!t.is_string()) validation("`texts` must be a list of strings");
      texts.push_back(t);
    }
    if (texts.empty()) empty("`texts` cannot be empty");
    if (kind != Kind::Reranker) fail(424, "Backend", "Backend error: model is not a re-ranker model");
    check_batch(texts.size(), "texts");
    const bool truncate = get_or<bool>(b, "truncate", false), raw = get_or<bool>(b, "raw_scores", false);
    const bool return_text = get_or<bool>(b, "return_text", false);
    const std::string query = b["query"];
    int64_t tokens = 0;
    std::vector<float> scores;
    for (const auto& t : texts) scores.push_back(classify(query, t, truncate, raw, tokens)[0]);
    std::vector<std::size_t> order(texts.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return scores[x] > scores[y]; });
    std::string s = "[";
    for (std::size_t i = 0; i < order.size(); ++i) {
      s += (i ? ",{\"index\":" : "{\"index\":") + std::to_string(order[i]);
      if (return_text) s += ",\"text\":" + to_json(texts[order[i]]);
      s += ",\"score\":";
      append_float(s, scores[order[i]]);
      s += "}";
    }
    tokens_total->Increment(static_cast<double>(tokens));
    res.set_content(s + "]", "application/json");
  }

  // ---- tokenizer routes -----------------------------------------------------------------------------------------
  void route_tokenize(const httplib::Request& req, httplib::Response& res) {
    const json b = parse_object(req);
    if (!b.contains("inputs")) validation("missing field `inputs`");
    const auto texts = text_inputs(b["inputs"], "inputs");
    check_batch(texts.size(), "inputs");
    const bool special = get_or<bool>(b, "add_special_tokens", true);
    const std::string prompt_name = get_or<std::string>(b, "prompt_name", "");
    std::string prompt;
    if (!prompt_name.empty()) {
      if (kind != Kind::Embedding || !st->prompts().count(prompt_name)) validation("prompt_name '" + prompt_name + "' is not in the model's prompts");
      prompt = st->prompts().at(prompt_name);
    }
    json out = json::array();
    for (const auto& t : texts) {
      const std::string input = prompt + t;
      const Encoding e = tokenizer->encode(input, std::nullopt, special);
      const auto at = byte_offsets(input);
      json toks = json::array();
      for (std::size_t i = 0; i < e.ids.size(); ++i) {
        const bool sp = i < e.special_tokens_mask.size() && e.special_tokens_mask[i] == 1;
        json tk = {{"id", e.ids[i]}, {"special", sp}};
        if (sp) {
          tk["text"] = e.tokens[i];
          tk["start"] = nullptr;
          tk["stop"] = nullptr;
        } else {
          const auto [cs, ce] = e.offsets[i];
          const std::size_t bs = at[static_cast<std::size_t>(std::clamp<int64_t>(cs, 0, static_cast<int64_t>(at.size()) - 1))];
          const std::size_t be = at[static_cast<std::size_t>(std::clamp<int64_t>(ce, 0, static_cast<int64_t>(at.size()) - 1))];
          tk["text"] = input.substr(bs, be - bs);
          tk["start"] = bs;
          tk["stop"] = be;
        }
        toks.push_back(std::move(tk));
      }
      out.push_back(std::move(toks));
    }
    res.set_content(to_json(out), "application/json");
  }

  void route_decode(const httplib::Request& req, httplib::Response& res) {
    const json b = parse_object(req);
    if (!b.contains("ids") || !b["ids"].is_array()) validation("`ids` must be a list of token ids or a list of lists");
    const json& ids = b["ids"];
    std::vector<std::vector<int64_t>> seqs;
    const int64_t V = tokenizer->vocab_size();
    auto seq = [&](const json& v) {
      std::vector<int64_t> s;
      for (const auto& x : v) {
        if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= V)
          validation("`ids` must hold token ids in [0, " + std::to_string(V) + ")");
        s.push_back(x.get<int64_t>());
      }
      return s;
    };
    if (!ids.empty() && ids[0].is_array()) {
      for (const auto& v : ids) {
        if (!v.is_array()) validation("`ids` must be a list of token ids or a list of lists");
        seqs.push_back(seq(v));
      }
      check_batch(seqs.size(), "ids");
    } else {
      if (ids.empty()) empty("`ids` cannot be empty");
      seqs.push_back(seq(ids));
    }
    const bool skip = get_or<bool>(b, "skip_special_tokens", true);
    json out = json::array();
    for (const auto& s : seqs) out.push_back(tokenizer->decode(s, skip));
    res.set_content(to_json(out), "application/json");
  }

  // ---- info, health, metrics, models ----------------------------------------------------------------------------
  json info() const {
    json model_type;
    if (kind == Kind::Embedding) {
      model_type = {{"embedding", {{"pooling", pooling}}}};
    } else if (kind == Kind::Generator) {
      model_type = {{"generator", json::object()}};  // not a TEI model type: TEI serves no generators
    } else {
      json id2label = json::object(), label2id = json::object();
      for (std::size_t i = 0; i < labels.size(); ++i) {
        id2label[std::to_string(i)] = labels[i];
        label2id[labels[i]] = i;
      }
      model_type = {{kind == Kind::Reranker ? "reranker" : "classifier", {{"id2label", id2label}, {"label2id", label2id}}}};
    }
    return {{"model_id", name},
            {"model_sha", nullptr},
            {"model_dtype", "float32"},
            {"served_model_name", name},
            {"model_type", model_type},
            {"max_concurrent_requests", o.max_concurrent_requests},
            {"max_input_length", max_input_length},
            {"max_batch_tokens", o.max_batch_tokens},
            {"max_batch_requests", nullptr},
            {"max_client_batch_size", o.max_client_batch_size},
            {"auto_truncate", false},
            {"tokenization_workers", 1},
            {"version", kVersion},
            {"sha", nullptr},
            {"docker_label", nullptr}};
  }

  std::vector<std::string> routes;  // "METHOD /path" of every route registered (Server::routes)
  template <class F>
  void get(const std::string& path, int flags, F f) {
    routes.push_back("GET " + path);
    http.Get(path, wrap(path, flags, f));
  }
  template <class F>
  void post(const std::string& path, int flags, F f) {
    routes.push_back("POST " + path);
    http.Post(path, wrap(path, flags, f));
  }

  void setup_routes() {
    using R = const httplib::Request&;
    using W = httplib::Response&;
    post("/embed", kInference, [this](R q, W r) { route_embed(q, r); });
    post("/predict", kInference, [this](R q, W r) { route_predict(q, r); });
    post("/rerank", kInference, [this](R q, W r) { route_rerank(q, r); });
    post("/tokenize", kInference, [this](R q, W r) { route_tokenize(q, r); });
    post("/decode", kInference, [this](R q, W r) { route_decode(q, r); });
    post("/v1/embeddings", kInference, [this](R q, W r) { route_openai_embeddings(q, r); });
    post("/v1/completions", kInference, [this](R q, W r) { route_completions(q, r); });
    post("/v1/chat/completions", kInference, [this](R q, W r) { route_chat_completions(q, r); });
    get("/info", 0, [this](R, W r) { r.set_content(to_json(info()), "application/json"); });
    get("/v1/models", 0, [this](R, W r) {
      const json m = {{"object", "list"}, {"data", {{{"id", name}, {"object", "model"}, {"created", created}, {"owned_by", "hfx"}}}}};
      r.set_content(to_json(m), "application/json");
    });
    get("/health", kPublic, [](R, W r) { r.status = 200; });
    get("/metrics", kPublic, [this](R, W r) {
      r.set_content(prometheus::TextSerializer().Serialize(registry->Collect()), "text/plain; version=0.0.4");
    });
    get("/", kPublic, [](R, W r) {
      r.set_header("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'");
      r.set_header("X-Content-Type-Options", "nosniff");
      r.set_content(page_html(), "text/html; charset=utf-8");
    });
    const std::string openapi = openapi_json(kVersion, !o.api_key.empty());
    get("/openapi.json", kPublic, [openapi](R, W r) { r.set_content(openapi, "application/json"); });
    http.set_payload_max_length(o.max_body_bytes);
    // Requests no route answered (unknown path: 404, a body over the limit: 413, ...) get a JSON body too.
    // The shape is the route family's: OpenAI's under /v1/, TEI's elsewhere.
    http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      HttpError e{res.status, res.status >= 500 ? "Backend" : "Validation",
                  "HTTP status " + std::to_string(res.status)};
      if (res.status == 400)
        e.message = "the HTTP request could not be read (malformed, or a POST without Content-Length or chunked encoding)";
      if (res.status == 404) e = {404, "NotFound", "no route " + req.method + " " + req.path};
      if (res.status == 413) e = {413, "PayloadTooLarge", "the body is larger than " + std::to_string(o.max_body_bytes) + " bytes (--max-body-bytes)"};
      write_error(res, e, openai_shape(req.path));
      // cpp-httplib may refuse a request before reading its body (a multipart Content-Type without a boundary:
      // 400, found by schemathesis): the unread body would be parsed as the next request on a kept-alive
      // connection, so a refused request ends its connection.
      if (res.status == 400 || res.status == 413) res.set_header("Connection", "close");
      requests->Add({{"route", "other"}, {"status", std::to_string(res.status)}}).Increment();
    });
    // wrap() answers every exception a route throws; this is the net under it (cpp-httplib would answer an empty 500).
    http.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& x) {
        what = x.what();
      } catch (...) {
      }
      write_error(res, {500, "Backend", what}, openai_shape(req.path));
    });
    // Worker threads: enough for every permitted request plus the health/metrics probes beside them, so the
    // 429 bound (not cpp-httplib's unbounded task queue) is what turns requests away.
    const std::size_t workers = static_cast<std::size_t>(std::min<int64_t>(o.max_concurrent_requests + 8, 1024));
    http.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
    // A structured request log: one JSON line per request at info level (hfx serve -v).
    http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      if (!log_enabled(LogLevel::Info)) return;
      log_info(to_json({{"method", req.method}, {"path", req.path}, {"status", res.status}, {"remote", req.remote_addr},
                        {"request_bytes", req.body.size()}, {"response_bytes", res.body.size()}}));
    });
    // cpp-httplib writes a response's headers and body in separate writes: with Nagle's algorithm on, a kept-alive
    // client's delayed ACK held every second write ~40 ms (measured: 44 ms per request on one connection).
    http.set_tcp_nodelay(true);
    http.set_keep_alive_timeout(5);
    http.set_read_timeout(30);
  }

  void shutdown() {
    std::call_once(shutdown_once, [this] {
      draining_ = true;
      const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.drain_timeout_s));
      while (active.load() > 0 && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      http.stop();
    });
  }
};

Server::Server(const ServeOptions& opts) : impl_(std::make_unique<Impl>(opts)) {}
Server::~Server() = default;

int Server::bind() {
  int port = impl_->o.port;
  if (port == 0) {
    port = impl_->http.bind_to_any_port(impl_->o.host);
  } else if (!impl_->http.bind_to_port(impl_->o.host, port)) {
    port = -1;
  }
  if (port < 0) throw_error(ErrorKind::Io, "cannot listen on " + impl_->o.host + ":" + std::to_string(impl_->o.port));
  return port;
}

void Server::run() { impl_->http.listen_after_bind(); }
void Server::shutdown() { impl_->shutdown(); }
bool Server::draining() const { return impl_->draining_; }
std::vector<std::string> Server::routes() const { return impl_->routes; }

}  // namespace hfx::serve
