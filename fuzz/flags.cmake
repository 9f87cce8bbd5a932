# SPDX-License-Identifier: Apache-2.0
# Included by the top-level CMakeLists.txt when NXP_FUZZ=ON, before any target
# exists: every translation unit (library, CLI, tests) gets libFuzzer's
# coverage instrumentation and the sanitizers, so the fuzz binaries see edges
# inside nxpatch_lib. Only clang has -fsanitize=fuzzer.
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "NXP_FUZZ=ON needs clang: configure with -DCMAKE_C_COMPILER=clang "
                      "(found ${CMAKE_C_COMPILER_ID})")
endif()
set(NXP_SANITIZE ON)
add_compile_options(-fsanitize=fuzzer-no-link)
