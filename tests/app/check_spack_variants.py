#!/usr/bin/env python3
"""Checks that every variant of the Spack package maps to a CMake option that exists.

Usage: check_spack_variants.py <source dir>. Reads spack/spack_repo/alphax/packages/alphax/package.py
without Spack (it is not installed in CI): the variants it declares (plus `cuda` from CudaPackage)
must each be passed to CMake with define_from_variant / define, and every CMake name used there
must be an option() (or a CMake built-in like CMAKE_CUDA_ARCHITECTURES) in our CMake files.
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
package = (root / "spack/spack_repo/alphax/packages/alphax/package.py").read_text()
repo_yaml = (root / "spack/spack_repo/alphax/repo.yaml").read_text()
cmake_text = "\n".join(p.read_text() for p in [root / "CMakeLists.txt", *sorted((root / "cmake").glob("*.cmake"))])

errors = []
if not re.search(r"namespace:\s*alphax\b", repo_yaml):
    errors.append("repo.yaml: namespace must be alphax")
if not re.search(r"api:\s*v2", repo_yaml):
    errors.append("repo.yaml: api must be v2.x (Spack >= 1.0)")
for needed in ("from spack_repo.builtin.build_systems.cmake import CMakePackage",
               "from spack_repo.builtin.build_systems.cuda import CudaPackage"):
    if needed not in package:
        errors.append(f"package.py: missing `{needed}`")

options = set(re.findall(r"option\(\s*(\w+)", cmake_text))
variants = set(re.findall(r'(?<!\w)variant\(\s*"(\w+)"', package)) | {"cuda"}  # cuda comes from CudaPackage
mapped = dict((v, o) for o, v in re.findall(r'define_from_variant\(\s*"(\w+)"\s*,\s*"(\w+)"\s*\)', package))
for option, variant in re.findall(r'define\(\s*"(\w+)"\s*,\s*self\.spec\.satisfies\("\+(\w+)"', package):
    mapped.setdefault(variant, option)

for variant in sorted(variants):
    if variant not in mapped:
        errors.append(f"variant '{variant}' is not passed to CMake (define_from_variant)")
    elif mapped[variant] not in options:
        errors.append(f"variant '{variant}' maps to {mapped[variant]}, which is no option() in CMakeLists.txt/cmake/")
for option in re.findall(r'define(?:_from_variant)?\(\s*"(ALPHAX_\w+)"', package):
    if option not in options:
        errors.append(f"package.py sets {option}, which is no option() in our CMake files")
if '"+nccl", when="~cuda"' not in package and "requires(\"+cuda\", when=\"+nccl\"" not in package:
    errors.append("+nccl must require +cuda (conflicts/requires)")

if errors:
    print("\n".join("spack package: " + e for e in errors))
    sys.exit(1)
print(f"spack package: {len(variants)} variants map to CMake options: " +
      ", ".join(f"{v}->{mapped[v]}" for v in sorted(variants)))
