# The library's layers, and the build that enforces them.
#
# Each folder of src/ is a layer, compiled as its own OBJECT library hfx_<layer>;
# the objects of all layers make the one library users link (libhfx.a, libhfx.so).
# A layer may use the layers listed for it below and nothing else:
#
#   core                                   tensors, dtypes, errors, Model's base
#   kernels    < core                      CPU kernels (oneDNN, SLEEF, intrinsics)
#   config     < core                      Config (knows no architecture)
#   nn         < kernels, config, core     shared blocks: the door to the kernels
#   models     < nn, config, core          one file per architecture, the registry (no kernels)
#   io         < core                      format readers and writers
#   naming     < io, config, core          framework <-> canonical names
#   tokenize   < hub, core                 tokenizers (repo ids resolved by hub)
#   hub        < core                      the Hugging Face Hub: moves folders
#   pretrained < everything above          loading, saving, conversion, push_to_hub(Model)
#   cli        public headers only         the `hfx` executable
#
# How a wrong include fails to compile: private headers are included as
# "<layer>/<file>.h" from one root. No target gets src/ itself on its include
# path; each gets a generated root, <build>/layers/<layer>/, holding one symbolic
# link per allowed layer (<build>/layers/models/nn -> src/nn, ...), plus the public
# include/. So `#include "io/zip.h"` in src/models/ finds no io/ on any search path
# and the compiler stops. Two ways around the roots are closed by
# tests/layering/check.sh (ctest "layering"): a `#include "../...` (quote includes
# also search the including file's own folder) is refused by grep, and probes
# compiled with each layer's real include path show that wrong includes fail
# and a right one builds. The public headers (include/hfx) are one API, visible
# to every layer, so a call into a higher layer through them would compile:
# tests/layering/links.sh (ctest "layering_links") reads every layer's object
# files and fails when a layer uses a symbol defined in a layer not under it
# (hence hub/ only uploads folders and pretrained/push.cc turns a Model into
# one; the file helpers of hfx/io.h live in core/file.cc).
#
# Model files reach the kernels only through nn/: models/ does not see kernels/
# (nn/'s headers include none; nn::Activation and the opaque nn::PackedWeight
# are nn's own types, mapped onto the backend in nn/backend.h, which nn/'s .cc
# files alone can compile). tests/nn_door_test.cc also greps src/models/.

set(HFX_LAYERS core kernels config nn models io naming tokenize hub pretrained)
set(HFX_LAYER_DEPS_core)
set(HFX_LAYER_DEPS_kernels core)
set(HFX_LAYER_DEPS_config core)
set(HFX_LAYER_DEPS_nn kernels config core)
set(HFX_LAYER_DEPS_models nn config core)
set(HFX_LAYER_DEPS_io core)
set(HFX_LAYER_DEPS_naming io config core)
set(HFX_LAYER_DEPS_tokenize hub core)  # AutoTokenizer takes repo ids: hub resolves the files
set(HFX_LAYER_DEPS_hub core)
set(HFX_LAYER_DEPS_pretrained models nn kernels config io naming tokenize hub core)

# hfx_layer_root(<name> <layer>...): <build>/layers/<name>/ with a link to
# src/<layer> for each layer given; sets HFX_LAYER_ROOT_<name>. Rebuilt at every
# configure, so a dependency removed above is gone from the root.
function(hfx_layer_root name)
  set(root "${PROJECT_BINARY_DIR}/layers/${name}")
  file(REMOVE_RECURSE "${root}")
  file(MAKE_DIRECTORY "${root}")
  foreach(layer ${ARGN})
    file(CREATE_LINK "${PROJECT_SOURCE_DIR}/src/${layer}" "${root}/${layer}" SYMBOLIC COPY_ON_ERROR)
  endforeach()
  set(HFX_LAYER_ROOT_${name} "${root}" PARENT_SCOPE)
endfunction()

# The flags every library object gets: warnings, the target CPU, hidden symbols, and PIC when
# the shared library is built (-fno-semantic-interposition keeps calls inside
# libhfx.so direct, as in the static build).
set(HFX_LIBRARY_FLAGS ${HFX_WARNINGS} ${HFX_ARCH_FLAGS})
# Hidden by default: libhfx.so exports only the public API, what include/hfx/
# marks HFX_API (hfx/export.h). No effect on libhfx.a, which the tests link.
list(APPEND HFX_LIBRARY_FLAGS -fvisibility=hidden)
if(HFX_BUILD_SHARED AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND HFX_LIBRARY_FLAGS -fno-semantic-interposition)
endif()

foreach(layer ${HFX_LAYERS})
  hfx_layer_root(${layer} ${layer} ${HFX_LAYER_DEPS_${layer}})
  # One glob per layer folder: a file another change adds to src/<layer>/ joins
  # its layer at the next build (CONFIGURE_DEPENDS).
  file(GLOB_RECURSE _srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${layer}/*.cc)
  add_library(hfx_${layer} OBJECT ${_srcs})
  target_include_directories(hfx_${layer} PRIVATE ${PROJECT_SOURCE_DIR}/include ${HFX_LAYER_ROOT_${layer}})
  target_compile_options(hfx_${layer} PRIVATE ${HFX_LIBRARY_FLAGS})
  set_target_properties(hfx_${layer} PROPERTIES POSITION_INDEPENDENT_CODE ${HFX_BUILD_SHARED})
  # nlohmann::json is in the public headers; OpenMP pragmas are used across layers.
  target_link_libraries(hfx_${layer} PRIVATE nlohmann_json::nlohmann_json OpenMP::OpenMP_CXX)
  list(APPEND HFX_OBJECTS $<TARGET_OBJECTS:hfx_${layer}>)
endforeach()
# Third-party headers, each given only to the layer that uses it.
target_include_directories(hfx_io SYSTEM PRIVATE ${HDF5_INCLUDE_DIRS})
target_link_libraries(hfx_io PRIVATE ${HFX_MSGPACK} ZLIB::ZLIB)
target_link_libraries(hfx_tokenize PRIVATE PkgConfig::TOKLIBS)
target_link_libraries(hfx_hub PRIVATE CURL::libcurl OpenSSL::Crypto)
target_link_libraries(hfx_core PRIVATE spdlog::spdlog PkgConfig::PCRE2)

# What the library's objects need at link time (the static library passes these
# on to whoever links it; the shared library records them as DT_NEEDED).
set(HFX_LINK_DEPS OpenMP::OpenMP_CXX ${DNNL_LIBRARY} ${SLEEF_LIBRARY} ${HDF5_C_LIBRARIES} ZLIB::ZLIB
    PkgConfig::TOKLIBS CURL::libcurl OpenSSL::Crypto spdlog::spdlog)

# libhfx.a: what the tests, benchmarks, fuzzers and the CLI link (exported as hfx::hfx_static).
add_library(hfx STATIC ${HFX_OBJECTS})
set_target_properties(hfx PROPERTIES EXPORT_NAME hfx_static)
target_include_directories(hfx PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_link_libraries(hfx PUBLIC nlohmann_json::nlohmann_json PRIVATE ${HFX_LINK_DEPS})
target_compile_features(hfx PUBLIC cxx_std_20)
add_library(hfx::hfx_static ALIAS hfx)

# libhfx.so.<major>.<minor> (exported as hfx::hfx). Before 1.0 a minor release
# may change the ABI, so the SONAME carries both numbers.
if(HFX_BUILD_SHARED)
  add_library(hfx_shared SHARED ${HFX_OBJECTS})
  set_target_properties(hfx_shared PROPERTIES OUTPUT_NAME hfx EXPORT_NAME hfx VERSION ${PROJECT_VERSION}
                        SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  target_include_directories(hfx_shared PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                               $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(hfx_shared PUBLIC nlohmann_json::nlohmann_json PRIVATE ${HFX_LINK_DEPS})
  target_compile_features(hfx_shared PUBLIC cxx_std_20)
  if(NOT HFX_SANITIZE)  # sanitizer runtimes are resolved by the executable
    target_link_options(hfx_shared PRIVATE -Wl,--no-undefined)
  endif()
  add_library(hfx::hfx ALIAS hfx_shared)
else()
  add_library(hfx::hfx ALIAS hfx)
endif()
