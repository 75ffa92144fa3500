# Test helpers. Every MPI test goes through alphax_add_mpi_test so that one line runs the same
# GoogleTest binary at several rank counts, oversubscribed, as root in CI and containers.
include(GoogleTest)
find_package(GTest REQUIRED)

execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE _alphax_mpiexec_version
                ERROR_QUIET)
set(ALPHAX_MPIEXEC_EXTRA_FLAGS "")
if(_alphax_mpiexec_version MATCHES "Open MPI|OpenRTE")
  # --oversubscribe: CI has 2 cores and tests run up to 8 ranks.
  list(APPEND ALPHAX_MPIEXEC_EXTRA_FLAGS --oversubscribe --bind-to none)
  set(ALPHAX_MPI_TEST_ENV "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1;OMPI_MCA_mpi_yield_when_idle=1;OMPI_MCA_btl_vader_single_copy_mechanism=none")
else()
  set(ALPHAX_MPI_TEST_ENV "")
endif()

# alphax_add_unit_test(<name> SOURCES ... LIBS ...): a plain GoogleTest binary, no mpirun.
function(alphax_add_unit_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  alphax_set_warnings(${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
                       PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "unit;${ARG_LABELS}"
                       ENVIRONMENT "OMP_NUM_THREADS=2;ALPHAX_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

# alphax_add_mpi_test(<name> SOURCES ... LIBS ... RANKS 1 2 4 [ARGS ...]): one GoogleTest
# binary (with the MPI-aware main in tests/support) registered as <name>_np<N> for every N.
function(alphax_add_mpi_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;RANKS;ARGS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} alphax_test_mpi_main)
  alphax_set_warnings(${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  foreach(np IN LISTS ARG_RANKS)
    add_test(NAME ${name}_np${np}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} ${ALPHAX_MPIEXEC_EXTRA_FLAGS}
                     ${MPIEXEC_PREFLAGS} $<TARGET_FILE:${name}> ${MPIEXEC_POSTFLAGS} ${ARG_ARGS})
    set_tests_properties(${name}_np${np} PROPERTIES
      TIMEOUT ${ARG_TIMEOUT} PROCESSORS 1 LABELS "mpi;${ARG_LABELS}"
      ENVIRONMENT "${ALPHAX_MPI_TEST_ENV};OMP_NUM_THREADS=1;ALPHAX_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  endforeach()
endfunction()
