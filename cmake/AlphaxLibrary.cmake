# alphax_add_library(<module> [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
#   One static library per lib/<module>: public headers in include/alphax/<module>/, private
#   sources in src/ (every *.cpp, and *.cu when CUDA is on). Creates alphax_<module> with the alias
#   alphax::<module>, our warning set, and registers it for install/export.
function(alphax_set_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor>
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${ALPHAX_WERROR}>>:-Werror>)
  if(ALPHAX_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

function(alphax_add_library module)
  cmake_parse_arguments(ARG "" "" "PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp)
  if(ALPHAX_ENABLE_CUDA)
    file(GLOB_RECURSE cuda_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/*.cu)
    list(APPEND sources ${cuda_sources})
  endif()
  set(target alphax_${module})
  if(NOT sources)
    # A module whose sources are not written yet is a header-only interface library.
    add_library(${target} INTERFACE)
    add_library(alphax::${module} ALIAS ${target})
    set_target_properties(${target} PROPERTIES EXPORT_NAME ${module})
    target_include_directories(${target} INTERFACE
      $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    target_link_libraries(${target} INTERFACE ${ARG_PUBLIC_DEPS})
    install(TARGETS ${target} EXPORT alphaxTargets)
    install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/alphax DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
    return()
  endif()
  add_library(${target} STATIC ${sources})
  add_library(alphax::${module} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${module} OUTPUT_NAME alphax_${module}
                                             POSITION_INDEPENDENT_CODE ON)
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  alphax_set_warnings(${target})
  if(ALPHAX_SANITIZE)
    target_link_options(${target} INTERFACE -fsanitize=address,undefined)
  endif()
  install(TARGETS ${target} EXPORT alphaxTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/alphax DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()
