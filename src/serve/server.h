// hfx serve: one model behind the HTTP APIs existing clients speak (docs/serve.md).
//
//   text-embeddings-inference: POST /embed /rerank /predict /tokenize /decode, GET /health /info
//   OpenAI:                     POST /v1/embeddings /v1/completions /v1/chat/completions, GET /v1/models
//   description:                GET /openapi.json (OpenAPI 3.0, serve/openapi.cc)
//   operations:                 GET /metrics (Prometheus text), a bound on requests in flight (429 +
//                               Retry-After), body size (413), input length (422), Bearer API key,
//                               graceful shutdown (in-flight requests finish, new ones get 503)
//
// The model is loaded once. An embedding model (any folder SentenceTransformer reads: its pooling, Dense and
// Normalize modules) serves /embed and /v1/embeddings; concurrent embedding requests are batched by one
// batcher thread up to max_batch_tokens per forward. A *ForSequenceClassification model serves /predict, and
// /rerank when it has one label (a cross-encoder), as TEI decides.
//
//   hfx::serve::Server s(opts);   // loads the model; throws hfx::Error
//   int port = s.bind();          // listening (port 0: an ephemeral port)
//   s.run();                      // serves until shutdown() (another thread or a signal)
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hfx::serve {

struct ServeOptions {
  std::string model;               // a model folder (repo ids are resolved by the caller)
  std::string served_model_name;   // /info's model_id, /v1/models' id; empty: `model`
  std::string host = "127.0.0.1";
  int port = 8080;                 // 0: any free port (Server::bind returns it)
  std::string api_key;             // non-empty: every route but /health and /metrics needs "Authorization: Bearer KEY"
  bool allow_public = false;       // bind a non-loopback host without an api key
  int64_t max_batch_tokens = 16384;       // tokens per forward of the embedding batcher (TEI's default)
  int64_t max_concurrent_requests = 128;  // inference requests in flight; more get 429 (+ Retry-After)
  int64_t max_input_length = 0;           // tokens per input; 0: the model's (max_seq_length / positions)
  int64_t max_client_batch_size = 32;     // inputs per request (TEI's default)
  std::size_t max_body_bytes = 2u << 20;  // larger bodies get 413 (TEI's default payload limit: 2 MB)
  int batch_wait_ms = 0;                  // the batcher waits this long for more requests before a forward
  double drain_timeout_s = 30;            // shutdown(): how long in-flight requests may take to finish
};

class Server {
 public:
  explicit Server(const ServeOptions& opts);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int bind();     // binds host:port; returns the port; throws hfx::Error (Io) when it cannot
  void run();     // accepts connections until shutdown(); returns when stopped
  // Graceful: new requests get 503, the ones in flight finish (up to drain_timeout_s), then the listener
  // stops and run() returns. Safe from any thread; idempotent.
  void shutdown();
  bool draining() const;
  std::vector<std::string> routes() const;  // "METHOD /path" of every route (each is in GET /openapi.json)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hfx::serve
