// hfx serve PATH_OR_REPO_ID: the model behind text-embeddings-inference's and OpenAI's HTTP APIs
// (serve/server.h, docs/serve.md). SIGTERM / SIGINT drain: requests in flight finish, new ones get 503.
#include <fmt/format.h>

#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include <pthread.h>

#include "cli/command.h"
#include "cli/hub.h"
#include "serve/server.h"

namespace hfx::cli {
namespace {

struct ServeArgs {
  std::string path;
  serve::ServeOptions o;
};

int cmd_serve(ServeArgs a) {
  RepoFiles want;
  want.tokenizer = true;
  want.sentence_transformers = true;
  a.o.model = resolve_path_arg(a.path, want);
  if (a.o.served_model_name.empty()) a.o.served_model_name = a.path;
  // The signals go to one waiting thread (sigwait), blocked everywhere else: set before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  serve::Server server(a.o);
  const int port = server.bind();
  std::thread waiter([&server, set] {
    int sig = 0;
    sigwait(&set, &sig);
    std::cerr << "hfx serve: draining (signal " << sig << ")\n";
    server.shutdown();
  });
  // One line on stdout once listening (tests and scripts read the port from it).
  std::cout << fmt::format("hfx serve: listening on http://{}:{}", a.o.host, port) << std::endl;
  server.run();
  // run() also returns when listening fails; wake the waiter so the process can exit.
  if (!server.draining()) pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  std::cerr << "hfx serve: stopped\n";
  return 0;
}

}  // namespace

void add_serve_commands(CommandTable& table) {
  auto ap = std::make_shared<ServeArgs>();
  ServeArgs& a = *ap;
  auto* s = table.add("serve", "Serve a model over HTTP: text-embeddings-inference routes (/embed /rerank /predict /tokenize "
                               "/decode /info /health), OpenAI /v1/embeddings, /v1/completions, /v1/chat/completions and /v1/models, Prometheus /metrics",
                      [ap] { return cmd_serve(*ap); });
  s->add_option("path", a.path, "model directory or repo id (a sentence-transformers folder, a *ForSequenceClassification model, or a "
                                "*ForCausalLM / *LMHeadModel)")
      ->required();
  s->add_option("--host", a.o.host, "address to listen on (default 127.0.0.1; another needs --api-key or --allow-public)");
  s->add_option("--port", a.o.port, "port (default 8080; 0: any free port, printed on stdout)")->check(CLI::Range(0, 65535));
  s->add_option("--api-key", a.o.api_key, "require 'Authorization: Bearer KEY' on every route but /health and /metrics");
  s->add_flag("--allow-public", a.o.allow_public, "allow a non-loopback --host without --api-key");
  s->add_option("--served-model-name", a.o.served_model_name, "model name in /info and /v1/models (default: PATH)");
  s->add_option("--max-batch-tokens", a.o.max_batch_tokens, "tokens per embedding forward (default 16384)")->check(CLI::PositiveNumber);
  s->add_option("--max-concurrent-requests", a.o.max_concurrent_requests, "inference requests in flight; more get 429 (default 128)")
      ->check(CLI::PositiveNumber);
  s->add_option("--max-input-length", a.o.max_input_length, "tokens per input (default: the model's maximum); longer ones get 422 "
                                                             "unless the request sets truncate")
      ->check(CLI::NonNegativeNumber);
  s->add_option("--max-client-batch-size", a.o.max_client_batch_size, "inputs per request (default 32)")->check(CLI::PositiveNumber);
  s->add_option("--max-body-bytes", a.o.max_body_bytes, "request bodies above this get 413 (default 2 MiB)")->check(CLI::PositiveNumber);
  s->add_option("--batch-wait-ms", a.o.batch_wait_ms, "how long the embedding batcher waits for more requests (default 0)")
      ->check(CLI::NonNegativeNumber);
  s->add_option("--drain-timeout", a.o.drain_timeout_s, "seconds in-flight requests may take to finish on SIGTERM (default 30)")
      ->check(CLI::NonNegativeNumber);
}

}  // namespace hfx::cli
