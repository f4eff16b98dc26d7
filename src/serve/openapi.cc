// GET /openapi.json: an OpenAPI 3.0 description of every route hfx serve answers, its request bodies, its
// responses and their error bodies (server.cc). Written out by hand because the routes are hand-written
// handlers over cpp-httplib, which has no schema of its own to derive one from; tests/serve_test.cc
// (Serve.OpenApiDescribesEveryRoute) checks that every route the server registers is here and that real
// responses validate, and schemathesis (tools/serve/schemathesis.sh) fuzzes the server against this document.
// Shapes are text-embeddings-inference's (router/src/http/types.rs) and OpenAI's. The seven error responses every
// POST route has are added by openapi_json() (one table, the shape chosen by the path as the server chooses it).
#include "serve/openapi.h"

#include <nlohmann/json.hpp>

namespace hfx::serve {
namespace {

constexpr const char* kDocument = R"JSON({
  "openapi": "3.0.3",
  "info": {
    "title": "hfx serve",
    "description": "text-embeddings-inference and OpenAI-compatible routes over one model (docs/serve.md). Routes a model cannot serve (an embedding route on a classifier, ...) answer 424 as TEI does.",
    "license": {"name": "Apache-2.0"}
  },
  "paths": {
    "/embed": {"post": {
      "summary": "Sentence embeddings (TEI)",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EmbedRequest"}}}},
      "responses": {
        "200": {"description": "one embedding per input",
                "headers": {"x-prompt-tokens": {"schema": {"type": "string", "pattern": "^[0-9]+$"}}},
                "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Vector"}}}}}}}},
    "/predict": {"post": {
      "summary": "Sequence classification scores (TEI)",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}}},
      "responses": {
        "200": {"description": "scores of each label, highest first; a batch gives one list per input",
                "content": {"application/json": {"schema": {"oneOf": [
                  {"type": "array", "items": {"$ref": "#/components/schemas/Prediction"}},
                  {"type": "array", "items": {"type": "array", "items": {"$ref": "#/components/schemas/Prediction"}}}]}}}}}}},
    "/rerank": {"post": {
      "summary": "Cross-encoder scores of texts against a query (TEI)",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RerankRequest"}}}},
      "responses": {
        "200": {"description": "one rank per text, highest score first",
                "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Rank"}}}}}}}},
    "/tokenize": {"post": {
      "summary": "Tokens of texts (TEI)",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenizeRequest"}}}},
      "responses": {
        "200": {"description": "the tokens of each input",
                "content": {"application/json": {"schema": {"type": "array", "items": {"type": "array", "items": {"$ref": "#/components/schemas/SimpleToken"}}}}}}}}},
    "/decode": {"post": {
      "summary": "Text of token ids (TEI)",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DecodeRequest"}}}},
      "responses": {
        "200": {"description": "one text per sequence of ids",
                "content": {"application/json": {"schema": {"type": "array", "items": {"type": "string"}}}}}}}},
    "/v1/embeddings": {"post": {
      "summary": "Embeddings (OpenAI)",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIEmbeddingsRequest"}}}},
      "responses": {
        "200": {"description": "an embedding per input",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIEmbeddings"}}}}}}},
    "/v1/completions": {"post": {
      "summary": "Text completion (OpenAI); stream: true answers server-sent events",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CompletionRequest"}}}},
      "responses": {
        "200": {"description": "the completion, or its chunks as text/event-stream ending with data: [DONE]",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Completion"}},
                            "text/event-stream": {"schema": {"$ref": "#/components/schemas/ServerSentEvent"}}}}}}},
    "/v1/chat/completions": {"post": {
      "summary": "Chat completion (OpenAI): the messages rendered by the model's chat template; stream: true answers server-sent events of chat.completion.chunk",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletionRequest"}}}},
      "responses": {
        "200": {"description": "the completion, or its chunks as text/event-stream (the first delta carries the role) ending with data: [DONE]",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletion"}},
                            "text/event-stream": {"schema": {"$ref": "#/components/schemas/ServerSentEvent"}}}}}}},
    "/v1/models": {"get": {
      "summary": "The served model (OpenAI)",
      "responses": {
        "200": {"description": "one model", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ModelList"}}}},
        "401": {"$ref": "#/components/responses/OpenAIError"}, "503": {"$ref": "#/components/responses/OpenAIError"}}}},
    "/info": {"get": {
      "summary": "Model and router settings (TEI)",
      "responses": {
        "200": {"description": "TEI's Info", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Info"}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "503": {"$ref": "#/components/responses/Unhealthy"}}}},
    "/health": {"get": {
      "summary": "200 while the server takes requests (no API key needed)",
      "responses": {"200": {"description": "healthy"}, "503": {"$ref": "#/components/responses/Unhealthy"}}}},
    "/metrics": {"get": {
      "summary": "Prometheus metrics (no API key needed)",
      "responses": {"200": {"description": "Prometheus text format 0.0.4", "content": {"text/plain": {"schema": {"type": "string"}}}},
                    "503": {"$ref": "#/components/responses/Unhealthy"}}}},
    "/": {"get": {
      "summary": "A page to try the model in a browser (no API key needed to load it)",
      "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}},
                    "503": {"$ref": "#/components/responses/Unhealthy"}}}},
    "/openapi.json": {"get": {
      "summary": "This document (no API key needed)",
      "responses": {"200": {"description": "OpenAPI 3.0", "content": {"application/json": {"schema": {"type": "object"}}}}}}}
  },
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "hfx serve --api-key KEY"}},
    "responses": {
      "Validation": {"description": "the request is not valid", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}},
      "Empty": {"description": "empty inputs, or a body that is not JSON", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}},
      "Unauthorized": {"description": "missing or wrong API key", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}},
      "TooLarge": {"description": "the body is over --max-body-bytes", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}},
      "Backend": {"description": "the model cannot serve this route, or failed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}},
      "Overloaded": {"description": "over --max-concurrent-requests (Retry-After)",
                     "headers": {"Retry-After": {"schema": {"type": "string"}}},
                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}},
      "Unhealthy": {"description": "the server is shutting down", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}},
      "OpenAIError": {"description": "an error in OpenAI's shape", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIErrorResponse"}}}}
    },
    "schemas": {
      "ErrorResponse": {"type": "object", "required": ["error", "error_type"],
                        "properties": {"error": {"type": "string"}, "error_type": {"type": "string"}}},
      "OpenAIErrorResponse": {"type": "object", "required": ["message", "code", "type"],
                              "properties": {"message": {"type": "string"}, "code": {"type": "integer"}, "type": {"type": "string"}}},
      "Vector": {"type": "array", "items": {"type": "number"}},
      "Input": {"description": "a text, token ids, or a batch of either",
                "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "integer", "minimum": 0}},
                          {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "integer", "minimum": 0}}]}}]},
      "EmbedRequest": {"type": "object", "required": ["inputs"], "properties": {
        "inputs": {"$ref": "#/components/schemas/Input"},
        "normalize": {"type": "boolean", "default": true},
        "truncate": {"type": "boolean", "default": false},
        "truncation_direction": {"type": "string", "enum": ["Right", "right", "Left", "left"], "default": "Right"},
        "prompt_name": {"type": "string", "nullable": true},
        "dimensions": {"type": "integer", "minimum": 1, "nullable": true}}},
      "PredictRequest": {"type": "object", "required": ["inputs"], "properties": {
        "inputs": {"oneOf": [{"type": "string"},
                             {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
                             {"type": "array", "items": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2}}]},
        "truncate": {"type": "boolean", "default": false},
        "raw_scores": {"type": "boolean", "default": false}}},
      "Prediction": {"type": "object", "required": ["score", "label"],
                     "properties": {"score": {"type": "number"}, "label": {"type": "string"}}},
      "RerankRequest": {"type": "object", "required": ["query", "texts"], "properties": {
        "query": {"type": "string"},
        "texts": {"type": "array", "items": {"type": "string"}},
        "truncate": {"type": "boolean", "default": false},
        "raw_scores": {"type": "boolean", "default": false},
        "return_text": {"type": "boolean", "default": false}}},
      "Rank": {"type": "object", "required": ["index", "score"],
               "properties": {"index": {"type": "integer", "minimum": 0}, "text": {"type": "string"}, "score": {"type": "number"}}},
      "TokenizeRequest": {"type": "object", "required": ["inputs"], "properties": {
        "inputs": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "add_special_tokens": {"type": "boolean", "default": true},
        "prompt_name": {"type": "string", "nullable": true}}},
      "SimpleToken": {"type": "object", "required": ["id", "text", "special", "start", "stop"], "properties": {
        "id": {"type": "integer"}, "text": {"type": "string"}, "special": {"type": "boolean"},
        "start": {"type": "integer", "nullable": true}, "stop": {"type": "integer", "nullable": true}}},
      "DecodeRequest": {"type": "object", "required": ["ids"], "properties": {
        "ids": {"oneOf": [{"type": "array", "items": {"type": "integer", "minimum": 0}},
                          {"type": "array", "items": {"type": "array", "items": {"type": "integer", "minimum": 0}}}]},
        "skip_special_tokens": {"type": "boolean", "default": true}}},
      "OpenAIEmbeddingsRequest": {"type": "object", "required": ["input"], "properties": {
        "input": {"$ref": "#/components/schemas/Input"},
        "model": {"type": "string"},
        "encoding_format": {"type": "string", "enum": ["float", "base64"], "default": "float"},
        "dimensions": {"type": "integer", "minimum": 1, "nullable": true},
        "user": {"type": "string"}}},
      "OpenAIEmbeddings": {"type": "object", "required": ["object", "data", "model", "usage"], "properties": {
        "object": {"type": "string", "enum": ["list"]},
        "data": {"type": "array", "items": {"type": "object", "required": ["object", "embedding", "index"], "properties": {
          "object": {"type": "string", "enum": ["embedding"]},
          "embedding": {"oneOf": [{"$ref": "#/components/schemas/Vector"}, {"type": "string", "description": "base64 of little-endian float32"}]},
          "index": {"type": "integer", "minimum": 0}}}},
        "model": {"type": "string"},
        "usage": {"type": "object", "required": ["prompt_tokens", "total_tokens"],
                  "properties": {"prompt_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"}}}}},
      "CompletionRequest": {"type": "object", "required": ["prompt"], "properties": {
        "prompt": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1}]},
        "model": {"type": "string"},
        "max_tokens": {"type": "integer", "minimum": 1, "default": 16},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2, "default": 1},
        "top_p": {"type": "number", "exclusiveMinimum": true, "minimum": 0, "maximum": 1, "default": 1},
        "n": {"type": "integer", "enum": [1], "default": 1},
        "stop": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 4}], "nullable": true},
        "seed": {"type": "integer", "minimum": 0, "nullable": true},
        "stream": {"type": "boolean", "default": false}}},
      "Completion": {"type": "object", "required": ["id", "object", "created", "model", "choices", "usage"], "properties": {
        "id": {"type": "string"}, "object": {"type": "string", "enum": ["text_completion"]},
        "created": {"type": "integer"}, "model": {"type": "string"},
        "choices": {"type": "array", "items": {"type": "object", "required": ["text", "index", "finish_reason"], "properties": {
          "text": {"type": "string"}, "index": {"type": "integer"}, "logprobs": {"nullable": true},
          "finish_reason": {"type": "string", "enum": ["stop", "length"]}}}},
        "usage": {"type": "object", "required": ["prompt_tokens", "completion_tokens", "total_tokens"], "properties": {
          "prompt_tokens": {"type": "integer"}, "completion_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"}}}}},
      "ChatCompletionRequest": {"type": "object", "required": ["messages"], "properties": {
        "messages": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["role"], "properties": {
          "role": {"type": "string"},
          "content": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}], "nullable": true},
          "name": {"type": "string"}, "tool_calls": {"type": "array", "items": {"type": "object"}}, "tool_call_id": {"type": "string"}}}},
        "model": {"type": "string"},
        "max_completion_tokens": {"type": "integer", "minimum": 1, "nullable": true},
        "max_tokens": {"type": "integer", "minimum": 1, "nullable": true},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2, "default": 1},
        "top_p": {"type": "number", "exclusiveMinimum": true, "minimum": 0, "maximum": 1, "default": 1},
        "n": {"type": "integer", "enum": [1], "default": 1},
        "stop": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 4}], "nullable": true},
        "seed": {"type": "integer", "minimum": 0, "nullable": true},
        "tools": {"type": "array", "items": {"type": "object"}, "nullable": true},
        "add_generation_prompt": {"type": "boolean", "default": true},
        "stream": {"type": "boolean", "default": false}}},
      "ChatCompletion": {"type": "object", "required": ["id", "object", "created", "model", "choices", "usage"], "properties": {
        "id": {"type": "string"}, "object": {"type": "string", "enum": ["chat.completion"]},
        "created": {"type": "integer"}, "model": {"type": "string"},
        "choices": {"type": "array", "items": {"type": "object", "required": ["index", "message", "finish_reason"], "properties": {
          "index": {"type": "integer"}, "logprobs": {"nullable": true},
          "message": {"type": "object", "required": ["role", "content"], "properties": {
            "role": {"type": "string", "enum": ["assistant"]}, "content": {"type": "string"}}},
          "finish_reason": {"type": "string", "enum": ["stop", "length"]}}}},
        "usage": {"type": "object", "required": ["prompt_tokens", "completion_tokens", "total_tokens"], "properties": {
          "prompt_tokens": {"type": "integer"}, "completion_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"}}}}},
      "ServerSentEvent": {"description": "one event of the stream: data is a Completion or chat.completion.chunk (JSON), an error, or [DONE]",
                          "type": "object", "required": ["data"],
                          "properties": {"data": {"type": "string"}, "event": {"type": "string"}, "id": {"type": "string"}}},
      "ModelList": {"type": "object", "required": ["object", "data"], "properties": {
        "object": {"type": "string", "enum": ["list"]},
        "data": {"type": "array", "items": {"type": "object", "required": ["id", "object", "created", "owned_by"], "properties": {
          "id": {"type": "string"}, "object": {"type": "string", "enum": ["model"]}, "created": {"type": "integer"},
          "owned_by": {"type": "string"}}}}}},
      "Info": {"type": "object", "required": ["model_id", "model_dtype", "model_type", "max_concurrent_requests",
                                              "max_input_length", "max_batch_tokens", "max_client_batch_size", "version"],
               "properties": {
                 "model_id": {"type": "string"}, "model_sha": {"type": "string", "nullable": true},
                 "model_dtype": {"type": "string"}, "served_model_name": {"type": "string"},
                 "model_type": {"type": "object"}, "max_concurrent_requests": {"type": "integer"},
                 "max_input_length": {"type": "integer"}, "max_batch_tokens": {"type": "integer"},
                 "max_batch_requests": {"type": "integer", "nullable": true}, "max_client_batch_size": {"type": "integer"},
                 "auto_truncate": {"type": "boolean"}, "tokenization_workers": {"type": "integer"},
                 "version": {"type": "string"}, "sha": {"type": "string", "nullable": true},
                 "docker_label": {"type": "string", "nullable": true}}}
    }
  }
})JSON";

}  // namespace

std::string openapi_json(const std::string& version, bool api_key) {
  nlohmann::json doc = nlohmann::json::parse(kDocument);
  doc["info"]["version"] = version;
  // Every POST route answers the same seven errors: TEI's bodies, or OpenAI's under /v1/ (server.cc's wrap()).
  for (auto& [path, item] : doc["paths"].items()) {
    if (!item.contains("post")) continue;
    const bool openai = path.rfind("/v1/", 0) == 0;
    const auto ref = [](const char* name) { return nlohmann::json{{"$ref", std::string("#/components/responses/") + name}}; };
    auto& responses = item["post"]["responses"];
    responses["400"] = ref(openai ? "OpenAIError" : "Empty");
    responses["401"] = ref(openai ? "OpenAIError" : "Unauthorized");
    responses["413"] = ref("TooLarge");
    responses["422"] = ref(openai ? "OpenAIError" : "Validation");
    responses["424"] = ref(openai ? "OpenAIError" : "Backend");
    responses["429"] = ref(openai ? "OpenAIError" : "Overloaded");
    responses["503"] = ref(openai ? "OpenAIError" : "Unhealthy");
  }
  if (api_key) {
    // Every route but /health, /metrics and this document needs the key.
    for (auto& [path, item] : doc["paths"].items())
      if (path != "/health" && path != "/metrics" && path != "/openapi.json" && path != "/")
        for (auto& [method, op] : item.items()) op["security"] = nlohmann::json::array({{{"bearer", nlohmann::json::array()}}});
  }
  return doc.dump();
}

}  // namespace hfx::serve
