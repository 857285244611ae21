# Cross-compiling kelvin for aarch64 Linux on a Debian x86-64 machine (scripts/check-aarch64.sh):
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
#         -DKELVIN_ENABLE_CUDA=OFF -DKELVIN_ENABLE_MPI=OFF
# Compilers: Debian's g++-aarch64-linux-gnu (libgomp comes with it). Libraries: Debian multiarch
# (`dpkg --add-architecture arm64`; libopenblas-dev:arm64, liblapacke-dev:arm64, libstb-dev:arm64,
# zlib1g-dev:arm64: scripts/install-deps.sh), installed in /usr/lib/aarch64-linux-gnu with their
# arch-specific headers in /usr/include/aarch64-linux-gnu. The header-only packages (CLI11,
# nlohmann-json, doctest) are the ones in /usr/include, which the cross compiler also searches.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Multiarch: find_library looks in <prefix>/lib/aarch64-linux-gnu, find_path in
# <prefix>/include/aarch64-linux-gnu before <prefix>/include. Nothing is searched in the x86-64
# folders (/usr/lib/x86_64-linux-gnu), so an amd64 library cannot be picked by mistake.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)   # build tools (ld.bfd, objcopy) may be the host's
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# The per-ISA kernels' partial link (CMakeLists.txt) needs the aarch64 linker and objcopy.
set(KELVIN_GNU_LD aarch64-linux-gnu-ld.bfd CACHE FILEPATH "GNU ld for the partial link")
set(CMAKE_OBJCOPY aarch64-linux-gnu-objcopy CACHE FILEPATH "objcopy for the target")
# qemu-aarch64 runs the binaries here (the arm64 loader and libraries are installed by multiarch).
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
