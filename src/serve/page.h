// The page GET / serves (page.cc).
#pragma once

namespace hfx::serve {

const char* page_html();

}  // namespace hfx::serve
