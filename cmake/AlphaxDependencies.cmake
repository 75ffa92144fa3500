# Every external dependency is found here, once, so that libraries only name targets.
find_package(MPI 3.0 REQUIRED COMPONENTS C CXX)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(yaml-cpp REQUIRED)           # Debian's 0.7 exports the plain target `yaml-cpp`
if(TARGET yaml-cpp::yaml-cpp AND NOT TARGET yaml-cpp)
  add_library(yaml-cpp ALIAS yaml-cpp::yaml-cpp)
endif()
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)

# The MPI flavour of HDF5 (Debian: libhdf5-openmpi-dev); the search log is written by rank 0 only,
# so the serial API is all we call, but the library must match the MPI we link.
set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 1.10 REQUIRED COMPONENTS C)
if(NOT TARGET HDF5::HDF5)
  message(FATAL_ERROR "alphax: FindHDF5 gave no HDF5::HDF5 target; install libhdf5-openmpi-dev (scripts/setup.sh)")
endif()

set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
find_path(ALPHAX_CBLAS_INCLUDE_DIR NAMES cblas.h
          PATH_SUFFIXES openblas x86_64-linux-gnu/openblas-pthread x86_64-linux-gnu aarch64-linux-gnu/openblas-pthread
          DOC "Directory holding cblas.h")
if(NOT ALPHAX_CBLAS_INCLUDE_DIR)
  message(FATAL_ERROR "alphax: cblas.h not found; install libopenblas-dev (scripts/setup.sh) or set ALPHAX_CBLAS_INCLUDE_DIR")
endif()
if(NOT TARGET alphax_cblas)
  add_library(alphax_cblas INTERFACE)
  target_include_directories(alphax_cblas INTERFACE $<BUILD_INTERFACE:${ALPHAX_CBLAS_INCLUDE_DIR}>)
  target_link_libraries(alphax_cblas INTERFACE BLAS::BLAS)
endif()

if(ALPHAX_ENABLE_CUDA)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90)
  endif()
  if(NOT DEFINED CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  find_package(CUDAToolkit 12 REQUIRED)
  find_package(CUDNN 9 REQUIRED)
  if(ALPHAX_ENABLE_NCCL)
    find_package(NCCL 2 REQUIRED)
  endif()
endif()

if(ALPHAX_ENABLE_KOKKOS)
  include(AlphaxKokkos)
endif()
