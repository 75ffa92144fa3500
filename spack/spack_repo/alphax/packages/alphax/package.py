# Spack package for alphax (Spack >= 1.0, package API v2).
#   spack repo add <clone>/spack/spack_repo/alphax
#   spack install alphax            # CPU
#   spack install alphax+cuda cuda_arch=90 +nccl
from spack_repo.builtin.build_systems.cmake import CMakePackage
from spack_repo.builtin.build_systems.cuda import CudaPackage

from spack.package import *


class Alphax(CMakePackage, CudaPackage):
    """Neural architecture search on supercomputers: AlphaX MCTS and LaNAS search, linear
    pipelining collectives, ISGD training, an asynchronous MPI master with HDF5 search logs and
    checkpoint/restart."""

    homepage = "https://github.com/alphax-nas/alphax"
    git = "https://github.com/alphax-nas/alphax.git"

    version("main", branch="main")

    variant("kokkos", default=False, description="Build the Kokkos element-wise kernels")
    variant("nccl", default=False, description="Use NCCL for device-buffer collectives (needs +cuda)")
    variant("tests", default=False, description="Build the unit tests")

    depends_on("c", type="build")
    depends_on("cxx", type="build")
    depends_on("cmake@3.25:", type="build")

    depends_on("mpi")
    depends_on("hdf5@1.10:+mpi")
    depends_on("yaml-cpp@0.7:")
    # cmake/AlphaxDependencies.cmake asks FindBLAS for the OpenBLAS vendor and needs its cblas.h.
    depends_on("openblas")
    depends_on("zlib-api")
    depends_on("cli11@2:")
    depends_on("googletest", type="test")
    depends_on("googletest", type=("build", "link"), when="+tests")

    depends_on("cuda@12:", when="+cuda")
    depends_on("cudnn@9:", when="+cuda")

    conflicts("+nccl", when="~cuda", msg="NCCL collectives need the CUDA build: use +cuda +nccl")
    depends_on("nccl", when="+nccl")
    for _arch in CudaPackage.cuda_arch_values:
        depends_on(f"nccl cuda_arch={_arch}", when=f"+nccl cuda_arch={_arch}")

    depends_on("kokkos", when="+kokkos")
    for _arch in CudaPackage.cuda_arch_values:
        depends_on(f"kokkos+cuda+wrapper cuda_arch={_arch}", when=f"+kokkos+cuda cuda_arch={_arch}")

    def cmake_args(self):
        args = [
            self.define_from_variant("ALPHAX_ENABLE_CUDA", "cuda"),
            self.define_from_variant("ALPHAX_ENABLE_NCCL", "nccl"),
            self.define_from_variant("ALPHAX_ENABLE_KOKKOS", "kokkos"),
            self.define("ALPHAX_BUILD_TESTS", self.spec.satisfies("+tests") or self.run_tests),
            self.define("ALPHAX_BUILD_BENCHMARKS", False),
        ]
        if self.spec.satisfies("+cuda"):
            archs = self.spec.variants["cuda_arch"].value
            if "none" not in archs:
                args.append(self.define("CMAKE_CUDA_ARCHITECTURES", ";".join(archs)))
        return args
