# SPDX-License-Identifier: Apache-2.0
# What `cmake --install` installs (GNU layout from GNUInstallDirs):
#   bin/nxpatch                                 the CLI
#   lib*/libnxpatch.so.0.1.0, .so.0, .so, .a    the library (shared with SONAME, and static)
#   include/nxpatch/*.h                         the public headers
#   lib*/pkgconfig/nxpatch.pc                   pkg-config (private deps for --static)
#   lib*/cmake/nxpatch/                         find_package(nxpatch): nxpatch::nxpatch, nxpatch::cli,
#                                               nxpatch_post_link()
#   libexec/nxpatch/                            helper executables (LIEF worker, trace helper)
#   share/nxpatch/rules/*.yaml                  the shipped policies (--policy NAME)
#   share/man/man1/nxpatch.1, man5/nxpatch-policy.5
#   share/bash-completion/completions/nxpatch, share/zsh/.../_nxpatch
# Components: bin (program, rules, man pages, completions), lib (the shared
# library), dev (headers, static library, .so link, pkg-config, CMake package).
include(CMakePackageConfigHelpers)

set(NXP_ZSH_COMPLETION_DIR ${CMAKE_INSTALL_DATADIR}/zsh/site-functions CACHE STRING
    "where the zsh completion goes, relative to the prefix (Debian: share/zsh/vendor-completions)")
set(NXP_BASH_COMPLETION_DIR ${CMAKE_INSTALL_DATADIR}/bash-completion/completions CACHE STRING
    "where the bash completion goes, relative to the prefix")

install(TARGETS nxpatch RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT bin)
install(TARGETS nxpatch_shared
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev)
install(TARGETS nxpatch_lib ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/nxpatch DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT dev FILES_MATCHING PATTERN "*.h" PATTERN "*.def")
install(FILES ${NXP_RULES} DESTINATION ${NXP_INSTALL_DATADIR}/rules COMPONENT bin)
install(FILES ${CMAKE_SOURCE_DIR}/man/nxpatch.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT bin)
install(FILES ${CMAKE_SOURCE_DIR}/man/nxpatch-policy.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5
  COMPONENT bin)
install(FILES ${CMAKE_SOURCE_DIR}/completions/nxpatch.bash DESTINATION ${NXP_BASH_COMPLETION_DIR}
  RENAME nxpatch COMPONENT bin)
install(FILES ${CMAKE_SOURCE_DIR}/completions/_nxpatch DESTINATION ${NXP_ZSH_COMPLETION_DIR}
  COMPONENT bin)

# Helper executables nxpatch runs (nxpatch-lief-worker; the trace helper):
# nxpatch looks for them beside itself, then in ../libexec/nxpatch, then in NXP_LIBEXECDIR.
foreach(helper nxpatch_lief_worker nxpatch_trace)
  if(TARGET ${helper})
    install(TARGETS ${helper} RUNTIME DESTINATION ${NXP_INSTALL_LIBEXECDIR} COMPONENT bin)
  endif()
endforeach()
if(NXP_TRACE_HELPER)
  install(PROGRAMS ${NXP_TRACE_HELPER} DESTINATION ${NXP_INSTALL_LIBEXECDIR} COMPONENT bin
    OPTIONAL)
endif()

# pkg-config: `pkg-config --cflags --libs nxpatch` links the shared library;
# --static adds what libnxpatch.a needs. Written at install time, so that
# `cmake --install --prefix P` gets P in it.
set(NXP_PC_REQUIRES_PRIVATE "yaml-0.1 jansson libcrypto capstone")
set(NXP_STATIC_LINK_LIBRARIES "yaml;jansson;crypto;capstone")
set(NXP_PC_LIBS_PRIVATE "-lm") # LIEF is linked by nxpatch-lief-worker only
list(APPEND NXP_STATIC_LINK_LIBRARIES m)
install(CODE "
  set(NXP_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(CMAKE_INSTALL_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(CMAKE_INSTALL_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(NXP_INSTALL_LIBEXECDIR \"${NXP_INSTALL_LIBEXECDIR}\")
  set(NXP_INSTALL_DATADIR \"${NXP_INSTALL_DATADIR}\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  set(NXP_PC_REQUIRES_PRIVATE \"${NXP_PC_REQUIRES_PRIVATE}\")
  set(NXP_PC_LIBS_PRIVATE \"${NXP_PC_LIBS_PRIVATE}\")
  configure_file(\"${CMAKE_SOURCE_DIR}/cmake/nxpatch.pc.in\" \"${CMAKE_BINARY_DIR}/install/nxpatch.pc\" @ONLY)
" COMPONENT dev)
install(FILES ${CMAKE_BINARY_DIR}/install/nxpatch.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
  COMPONENT dev)

# The CMake package: relocatable (paths relative to the config file).
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/nxpatchConfig.cmake.in
  ${CMAKE_BINARY_DIR}/install/nxpatchConfig.cmake
  INSTALL_DESTINATION ${NXP_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_BINDIR CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR NXP_INSTALL_DATADIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/install/nxpatchConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/install/nxpatchConfig.cmake
  ${CMAKE_BINARY_DIR}/install/nxpatchConfigVersion.cmake ${CMAKE_SOURCE_DIR}/cmake/NxPatch.cmake
  DESTINATION ${NXP_INSTALL_CMAKEDIR} COMPONENT dev)
