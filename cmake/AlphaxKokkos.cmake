# Debian 12's libtrilinos-kokkos-dev ships a Kokkos CMake config whose Kokkos::kokkos target names
# the include directory /usr/lib/include, which does not exist (the headers are in
# /usr/include/trilinos). We do not patch the system: we find the package, then give our own
# interface target the directory that really holds Kokkos_Core.hpp.
find_package(Kokkos REQUIRED)
find_path(ALPHAX_KOKKOS_INCLUDE_DIR NAMES Kokkos_Core.hpp
          HINTS ${Kokkos_INCLUDE_DIRS} /usr/include/trilinos /usr/include/kokkos
          DOC "Directory holding Kokkos_Core.hpp")
if(NOT ALPHAX_KOKKOS_INCLUDE_DIR)
  message(FATAL_ERROR "alphax: Kokkos_Core.hpp not found; install libtrilinos-kokkos-dev or set ALPHAX_KOKKOS_INCLUDE_DIR")
endif()
add_library(alphax_kokkos INTERFACE)
foreach(_kokkos_target Kokkos::kokkoscore Kokkos::kokkos kokkoscore)
  if(TARGET ${_kokkos_target})
    get_target_property(_incs ${_kokkos_target} INTERFACE_INCLUDE_DIRECTORIES)
    if(_incs)
      set(_good_incs "")
      foreach(_dir IN LISTS _incs)
        if(_dir MATCHES "^\\$<" OR EXISTS "${_dir}")
          list(APPEND _good_incs "${_dir}")
        endif()
      endforeach()
      set_target_properties(${_kokkos_target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_good_incs}")
    endif()
  endif()
endforeach()
if(TARGET Kokkos::kokkos)
  target_link_libraries(alphax_kokkos INTERFACE Kokkos::kokkos)
elseif(TARGET kokkoscore)
  target_link_libraries(alphax_kokkos INTERFACE kokkoscore)
endif()
target_include_directories(alphax_kokkos SYSTEM INTERFACE $<BUILD_INTERFACE:${ALPHAX_KOKKOS_INCLUDE_DIR}>)
target_compile_definitions(alphax_kokkos INTERFACE ALPHAX_HAVE_KOKKOS=1)
install(TARGETS alphax_kokkos EXPORT alphaxTargets)
