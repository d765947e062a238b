# Install rules for `cmake --install`:
#   <prefix>/include/mn/...                     public headers
#   <prefix>/<libdir>/libmnsched.a (or .so)     the runtime (honours BUILD_SHARED_LIBS)
#   <prefix>/<libdir>/cmake/mnsched/            mnschedConfig.cmake, mnschedConfigVersion.cmake,
#                                               mnschedTargets*.cmake  -> find_package(mnsched CONFIG)
#   <prefix>/<libdir>/pkgconfig/mnsched.pc      -> pkg-config --cflags --libs mnsched
# Included at the end of the top-level CMakeLists.txt, after every target exists.
# tests/install/run.sh checks all of this end to end (ctest: install_consumer).

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

option(MN_INSTALL "Generate install rules for mnsched" ${PROJECT_IS_TOP_LEVEL})
set(MN_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/mnsched"
    CACHE STRING "Where mnschedConfig.cmake is installed (relative to the prefix)")
set(MN_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
    CACHE STRING "Where mnsched.pc is installed (relative to the prefix)")

if(NOT MN_INSTALL)
  return()
endif()
if(NOT TARGET mnsched)
  message(FATAL_ERROR "Packaging.cmake: target 'mnsched' does not exist; include it after add_subdirectory(userspace)")
endif()

# The public headers use C++20 (designated initialisers, concepts), so say so on the
# exported target: consumers then get -std=c++20 (or later) without having to know.
get_target_property(_mn_features mnsched INTERFACE_COMPILE_FEATURES)
if(NOT _mn_features OR NOT "cxx_std_20" IN_LIST _mn_features)
  target_compile_features(mnsched INTERFACE cxx_std_20)
endif()

# A sanitized runtime cannot be linked without the sanitizer runtime; the build tree gets
# that from add_link_options() in Sanitizers.cmake, installed consumers get it from here.
set(_mn_san_link "")
if(MN_SANITIZE STREQUAL "address")
  set(_mn_san_link "-fsanitize=address,undefined")
elseif(MN_SANITIZE STREQUAL "thread")
  set(_mn_san_link "-fsanitize=thread")
endif()
if(_mn_san_link)
  string(REPLACE "," "$<COMMA>" _mn_san_genex "${_mn_san_link}")
  target_link_options(mnsched INTERFACE "$<INSTALL_INTERFACE:${_mn_san_genex}>")
  message(STATUS "mnsched: MN_SANITIZE=${MN_SANITIZE}; installed consumers must link with ${_mn_san_link}")
endif()

# ---- library, headers, exported targets ------------------------------------------------
install(TARGETS mnsched EXPORT mnschedTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
# The whole include/mn tree (the target's INSTALL_INTERFACE include dir is <prefix>/include).
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/mn" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(EXPORT mnschedTargets
  NAMESPACE mnsched::
  FILE mnschedTargets.cmake
  DESTINATION "${MN_INSTALL_CMAKEDIR}")

# ---- CMake package config ----------------------------------------------------------------
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/mnschedConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/mnschedConfig.cmake"
  INSTALL_DESTINATION "${MN_INSTALL_CMAKEDIR}")
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/mnschedConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/mnschedConfig.cmake"
  "${PROJECT_BINARY_DIR}/mnschedConfigVersion.cmake"
  DESTINATION "${MN_INSTALL_CMAKEDIR}")

# ---- pkg-config ------------------------------------------------------------------------------
# Requires/Libs are derived from the target's link libraries so they stay in step with
# userspace/CMakeLists.txt: absl::foo -> absl_foo (Debian ships absl_*.pc), Threads::Threads
# -> -pthread, plain names -> -lname. PUBLIC deps go to Requires; PRIVATE deps go to
# Requires (static library: the consumer's link needs them) or Requires.private (shared).
# Anything else can be added with MN_PC_EXTRA_REQUIRES / MN_PC_EXTRA_LIBS.
set(MN_PC_EXTRA_REQUIRES "" CACHE STRING "Extra pkg-config modules for mnsched.pc Requires")
set(MN_PC_EXTRA_LIBS "" CACHE STRING "Extra flags for mnsched.pc Libs")

function(_mn_pc_classify items out_req out_libs)
  set(req "")
  set(libs "")
  foreach(item IN LISTS items)
    if(item MATCHES "^::@")                       # directory markers of non-local target_link_libraries
      continue()
    endif()
    if(item MATCHES "^\\$<LINK_ONLY:(.+)>$")
      set(item "${CMAKE_MATCH_1}")
    endif()
    if(item MATCHES "^\\$<INSTALL_INTERFACE:(.+)>$")
      set(item "${CMAKE_MATCH_1}")
    elseif(item MATCHES "^\\$<BUILD_INTERFACE:")  # build-tree only
      continue()
    endif()
    if(item MATCHES "^absl::(.+)$")
      list(APPEND req "absl_${CMAKE_MATCH_1}")
    elseif(item STREQUAL "Threads::Threads")
      # -pthread is always in Libs/Cflags.
    elseif(item MATCHES "^-")
      list(APPEND libs "${item}")
    elseif(item MATCHES "^[A-Za-z0-9_+.-]+$" AND NOT TARGET "${item}")
      list(APPEND libs "-l${item}")
    else()
      message(WARNING "mnsched.pc: don't know the pkg-config form of link item '${item}'; "
                      "add it via MN_PC_EXTRA_REQUIRES / MN_PC_EXTRA_LIBS")
    endif()
  endforeach()
  list(REMOVE_DUPLICATES req)
  list(REMOVE_DUPLICATES libs)
  set(${out_req} "${req}" PARENT_SCOPE)
  set(${out_libs} "${libs}" PARENT_SCOPE)
endfunction()

get_target_property(_mn_iface mnsched INTERFACE_LINK_LIBRARIES)
get_target_property(_mn_all mnsched LINK_LIBRARIES)
if(NOT _mn_iface)
  set(_mn_iface "")
endif()
if(NOT _mn_all)
  set(_mn_all "")
endif()
set(_mn_public "")
foreach(item IN LISTS _mn_iface)
  if(NOT item MATCHES "^\\$<LINK_ONLY:")
    list(APPEND _mn_public "${item}")
  endif()
endforeach()
set(_mn_private "${_mn_all}")
if(_mn_public)
  list(REMOVE_ITEM _mn_private ${_mn_public})
endif()
_mn_pc_classify("${_mn_public}" _mn_pub_req _mn_pub_libs)
_mn_pc_classify("${_mn_private}" _mn_priv_req _mn_priv_libs)
if(_mn_pub_req)
  list(REMOVE_ITEM _mn_priv_req ${_mn_pub_req})
endif()
list(APPEND _mn_pub_req ${MN_PC_EXTRA_REQUIRES})

get_target_property(_mn_type mnsched TYPE)
if(_mn_type STREQUAL "STATIC_LIBRARY")
  set(_mn_requires ${_mn_pub_req} ${_mn_priv_req})
  set(_mn_requires_private "")
  set(_mn_libs ${_mn_pub_libs} ${_mn_priv_libs})
  set(_mn_libs_private "")
else()
  set(_mn_requires ${_mn_pub_req})
  set(_mn_requires_private ${_mn_priv_req})
  set(_mn_libs ${_mn_pub_libs})
  set(_mn_libs_private ${_mn_priv_libs})
endif()
list(APPEND _mn_libs ${MN_PC_EXTRA_LIBS} ${_mn_san_link})
list(JOIN _mn_requires " " MN_PC_REQUIRES)
list(JOIN _mn_requires_private " " MN_PC_REQUIRES_PRIVATE)
list(JOIN _mn_libs " " MN_PC_LIBS)
list(JOIN _mn_libs_private " " MN_PC_LIBS_PRIVATE)
if(MN_PC_LIBS)
  string(PREPEND MN_PC_LIBS " ")
endif()

foreach(_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_dir}}")
    set(MN_PC_${_dir} "${CMAKE_INSTALL_${_dir}}")
  else()
    set(MN_PC_${_dir} "\${prefix}/${CMAKE_INSTALL_${_dir}}")
  endif()
endforeach()

# The prefix is only known at install time (`cmake --install build --prefix P` overrides
# CMAKE_INSTALL_PREFIX), so configure everything else now and fill in prefix= when installing.
set(MN_PC_PREFIX "@CMAKE_INSTALL_PREFIX@")
configure_file("${PROJECT_SOURCE_DIR}/cmake/mnsched.pc.in" "${PROJECT_BINARY_DIR}/mnsched.pc.stage" @ONLY)
install(CODE "configure_file([[${PROJECT_BINARY_DIR}/mnsched.pc.stage]] [[${PROJECT_BINARY_DIR}/mnsched.pc]] @ONLY)")
install(FILES "${PROJECT_BINARY_DIR}/mnsched.pc" DESTINATION "${MN_INSTALL_PKGCONFIGDIR}")
