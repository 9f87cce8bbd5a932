# SPDX-License-Identifier: Apache-2.0
# NxPatch.cmake: patch (and sign) a Windows image right after it is linked.
#
#   list(APPEND CMAKE_MODULE_PATH /path/to/nxpatch/cmake)
#   include(NxPatch)
#   nxpatch_post_link(app POLICY ${CMAKE_SOURCE_DIR}/nx.yaml
#                     [NXPATCH /path/to/nxpatch]      # default: NXPATCH_EXECUTABLE or PATH
#                     [NO_CROSS_CHECK]
#                     [SIGN CERT chain.pem KEY key.pem | SIGN PKCS12 file.p12
#                      [PASS_ENV VAR | PASS_FILE file] [DIGEST sha256]
#                      [TIMESTAMP_URL http://tsa] [PROGRAM_NAME name] [URL url]])
#
# Adds POST_BUILD steps to TARGET:
#   nxpatch apply --policy POLICY --in-place $<TARGET_FILE:TARGET>
#   nxpatch sign $<TARGET_FILE:TARGET> -o $<TARGET_FILE:TARGET> ...   (with SIGN)
# apply verifies its output before it replaces the linked file; a refused
# change (exit 1) or any error fails the build, and the half-done image is
# never left behind. A freshly linked image is unsigned, so it is signed after
# patching; SOURCE_DATE_EPOCH in the build environment makes it reproducible.
# Key passphrases come from PASS_ENV/PASS_FILE, never the command line.
include_guard(GLOBAL)

function(nxpatch_post_link target)
  cmake_parse_arguments(NXP "SIGN;NO_CROSS_CHECK"
    "POLICY;NXPATCH;CERT;KEY;PKCS12;PASS_ENV;PASS_FILE;DIGEST;TIMESTAMP_URL;PROGRAM_NAME;URL"
    "" ${ARGN})
  if(NXP_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "nxpatch_post_link(${target}): unknown arguments ${NXP_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "nxpatch_post_link: ${target} is not a target")
  endif()
  if(NOT NXP_POLICY)
    message(FATAL_ERROR "nxpatch_post_link(${target}): POLICY FILE is required")
  endif()
  get_filename_component(policy "${NXP_POLICY}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT EXISTS "${policy}")
    message(FATAL_ERROR "nxpatch_post_link(${target}): policy ${policy} does not exist")
  endif()

  set(nx "${NXP_NXPATCH}")
  if(NOT nx)
    if(NOT NXPATCH_EXECUTABLE)
      # Cross builds restrict find_program to the target root: nxpatch is a host tool.
      find_program(NXPATCH_EXECUTABLE nxpatch NO_CMAKE_FIND_ROOT_PATH)
    endif()
    if(NOT NXPATCH_EXECUTABLE)
      message(FATAL_ERROR "nxpatch_post_link: nxpatch not found; set NXPATCH_EXECUTABLE")
    endif()
    set(nx "${NXPATCH_EXECUTABLE}")
  endif()

  set(apply "${nx}" apply --policy "${policy}" --in-place -q)
  if(NXP_NO_CROSS_CHECK)
    list(APPEND apply --no-cross-check)
  endif()
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${apply} "$<TARGET_FILE:${target}>"
    COMMENT "nxpatch: applying ${NXP_POLICY} to ${target}"
    VERBATIM)

  if(NXP_SIGN)
    set(sign "${nx}" sign "$<TARGET_FILE:${target}>" -o "$<TARGET_FILE:${target}>")
    if(NXP_PKCS12)
      list(APPEND sign --pkcs12 "${NXP_PKCS12}")
    elseif(NXP_CERT AND NXP_KEY)
      list(APPEND sign --cert "${NXP_CERT}" --key "${NXP_KEY}")
    else()
      message(FATAL_ERROR "nxpatch_post_link(${target}): SIGN needs CERT and KEY, or PKCS12")
    endif()
    foreach(opt PASS_ENV PASS_FILE DIGEST TIMESTAMP_URL PROGRAM_NAME URL)
      if(NXP_${opt})
        string(TOLOWER "${opt}" o)
        string(REPLACE "_" "-" o "${o}")
        list(APPEND sign "--${o}" "${NXP_${opt}}")
      endif()
    endforeach()
    add_custom_command(TARGET ${target} POST_BUILD
      COMMAND ${sign}
      COMMENT "nxpatch: signing ${target}"
      VERBATIM)
  endif()
endfunction()
