// The OpenAPI 3.0 document of hfx serve's routes (GET /openapi.json).
#pragma once

#include <string>

namespace hfx::serve {

// `version` goes into info.version; with `api_key`, every route that needs the key says so (security: bearer).
std::string openapi_json(const std::string& version, bool api_key);

}  // namespace hfx::serve
