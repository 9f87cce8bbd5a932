# SPDX-License-Identifier: Apache-2.0
# NxPatch.cmake: patch (and sign) a Windows image right after it is linked.
#
#   find_package(nxpatch)    # installed: gives nxpatch_post_link() and the installed nxpatch
#   or: list(APPEND CMAKE_MODULE_PATH /path/to/nxpatch/cmake) + include(NxPatch)
#   nxpatch_post_link(app POLICY ${CMAKE_SOURCE_DIR}/nx.yaml   # or a shipped rule set: POLICY uefi
#                     [NXPATCH /path/to/nxpatch]      # default: NXPATCH_EXECUTABLE or PATH
#                     [NO_CROSS_CHECK]
#                     [SIGN CERT chain.pem KEY key.pem | SIGN PKCS12 file.p12
#                      [PASS_ENV VAR | PASS_FILE file] [DIGEST sha256]
#                      [TIMESTAMP_URL http://tsa] [PROGRAM_NAME name] [URL url]])
#
# Adds one POST_BUILD step to TARGET:
#   nxpatch apply --policy POLICY --in-place $<TARGET_FILE:TARGET>
#     [--signature sign --cert ... --key ...]                         (with SIGN)
# apply verifies its output before it replaces the linked file; a refused
# change (exit 1) or any error fails the build, and the half-done image is
# never left behind. With SIGN the output is signed in the same step (a
# freshly linked image is unsigned: signature: sign signs it whether or not
# the policy changes anything); SOURCE_DATE_EPOCH in the build environment
# makes it reproducible.
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
    # A plain name is a shipped rule set (`nxpatch policy list`), found by nxpatch.
    if(NXP_POLICY MATCHES "^[A-Za-z0-9][A-Za-z0-9_.-]*$" AND NOT NXP_POLICY MATCHES "\\.ya?ml$")
      if(NXPATCH_RULES_DIR AND NOT EXISTS "${NXPATCH_RULES_DIR}/${NXP_POLICY}.yaml")
        message(FATAL_ERROR "nxpatch_post_link(${target}): no shipped rule set ${NXP_POLICY} "
                            "in ${NXPATCH_RULES_DIR}")
      endif()
      set(policy "${NXP_POLICY}")
    else()
      message(FATAL_ERROR "nxpatch_post_link(${target}): policy ${policy} does not exist")
    endif()
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
  set(what "applying ${NXP_POLICY} to")
  if(NXP_SIGN)
    list(APPEND apply --signature sign)
    if(NXP_PKCS12)
      list(APPEND apply --pkcs12 "${NXP_PKCS12}")
    elseif(NXP_CERT AND NXP_KEY)
      list(APPEND apply --cert "${NXP_CERT}" --key "${NXP_KEY}")
    else()
      message(FATAL_ERROR "nxpatch_post_link(${target}): SIGN needs CERT and KEY, or PKCS12")
    endif()
    foreach(opt PASS_ENV PASS_FILE DIGEST TIMESTAMP_URL PROGRAM_NAME URL)
      if(NXP_${opt})
        string(TOLOWER "${opt}" o)
        string(REPLACE "_" "-" o "${o}")
        list(APPEND apply "--${o}" "${NXP_${opt}}")
      endif()
    endforeach()
    set(what "applying ${NXP_POLICY} to and signing")
  endif()
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${apply} "$<TARGET_FILE:${target}>"
    COMMENT "nxpatch: ${what} ${target}"
    VERBATIM)
endfunction()
