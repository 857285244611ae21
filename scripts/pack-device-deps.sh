#!/usr/bin/env bash
# Packs what the GPU machine lacks into .devdeps/ (git-ignored; named in the device tool's
# `carry`): the Debian libraries and headers kelvin builds against (OpenBLAS, LAPACKE, zlib, stb,
# CLI11, nlohmann-json, doctest) as one xz archive, and the Fashion-MNIST files. The GPU machine
# cannot install packages; its image has nvcc, CMake, g++ and PyTorch. Run here, before the
# device call.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.devdeps
rm -rf "$out" && mkdir -p "$out/stage/include" "$out/stage/lib"
multiarch=/usr/lib/x86_64-linux-gnu
for lib in libopenblas.so.0 liblapacke.so.3 liblapack.so.3 libblas.so.3 libtmglib.so.3 \
           libgfortran.so.5 libquadmath.so.0 libstb.so libz.so.1; do
  cp -L "$multiarch/$lib" "$out/stage/lib/"
done
ln -s libopenblas.so.0 "$out/stage/lib/libopenblas.so"
ln -s liblapacke.so.3 "$out/stage/lib/liblapacke.so"
ln -s libz.so.1 "$out/stage/lib/libz.so"
cp -L /usr/include/x86_64-linux-gnu/openblas-pthread/{cblas.h,openblas_config.h} "$out/stage/include/"
cp -L /usr/include/{lapacke.h,lapacke_config.h,lapacke_mangling.h,lapacke_utils.h,lapack.h,zlib.h,zconf.h} "$out/stage/include/"
cp -rL /usr/include/{CLI,nlohmann,doctest,stb} "$out/stage/include/"
tar -C "$out/stage" -cJf "$out/deps.tar.xz" include lib
rm -rf "$out/stage"
cp -r /usr/share/datasets/fashion-mnist "$out/fashion-mnist"
grep -qx '/.devdeps/' .git/info/exclude 2>/dev/null || echo '/.devdeps/' >> .git/info/exclude
du -sh "$out"
