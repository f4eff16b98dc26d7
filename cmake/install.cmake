# cmake --install: headers, libhfx.a / libhfx.so, the `hfx` CLI, the CMake
# package (find_package(hfx): hfx::hfx, the shared library when built, and
# hfx::hfx_static) and hfx.pc for pkg-config. Both are relocatable: the CMake
# files and hfx.pc find the prefix from where they are installed.
include(CMakePackageConfigHelpers)
set(HFX_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/hfx)

install(DIRECTORY include/hfx DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(TARGETS hfx_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The static library's link dependencies are other packages' targets, found
# again by hfxConfig.cmake only when hfx::hfx_static is asked for; the shared
# library needs nlohmann_json alone (its headers are part of hfx's API).
install(TARGETS hfx EXPORT hfxStaticTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT hfxStaticTargets NAMESPACE hfx:: DESTINATION ${HFX_CMAKE_DIR})
if(HFX_BUILD_SHARED)
  install(TARGETS hfx_shared EXPORT hfxTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          NAMELINK_COMPONENT Development)
  install(EXPORT hfxTargets NAMESPACE hfx:: DESTINATION ${HFX_CMAKE_DIR})
endif()

configure_package_config_file(cmake/hfxConfig.cmake.in ${PROJECT_BINARY_DIR}/hfxConfig.cmake
                              INSTALL_DESTINATION ${HFX_CMAKE_DIR})
# Before 1.0 a minor release may break the API: SameMinorVersion.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/hfxConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/hfxConfig.cmake ${PROJECT_BINARY_DIR}/hfxConfigVersion.cmake
        DESTINATION ${HFX_CMAKE_DIR})

# hfx.pc: `pkg-config --cflags --libs hfx` links the shared library;
# `--static` adds what libhfx.a needs.
set(HFX_PC_LIBS_PRIVATE "")
foreach(lib ${DNNL_LIBRARY} ${SLEEF_LIBRARY} ${HDF5_C_LIBRARIES})
  string(APPEND HFX_PC_LIBS_PRIVATE " ${lib}")
endforeach()
string(APPEND HFX_PC_LIBS_PRIVATE " ${OpenMP_CXX_FLAGS}")
# prefix from where hfx.pc lies (libdir/pkgconfig), so the tree can be moved.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(HFX_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _rel "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
  set(HFX_PC_PREFIX "\${pcfiledir}/${_rel}")
endif()
configure_file(cmake/hfx.pc.in ${PROJECT_BINARY_DIR}/hfx.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/hfx.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
