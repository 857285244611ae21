#!/usr/bin/env bash
# Packs what the GPU machine lacks into .devdeps/ (git-ignored by .gitignore; named in the
# device tool's `carry`): the Debian libraries and headers kelvin builds against (OpenBLAS,
# LAPACKE, zlib, stb, CLI11, nlohmann-json, doctest) as one gzip archive (gzip: every image has
# it, xz not surely), and the Fashion-MNIST files; about 45 MB with the working tree, under the
# tool's 64 MiB. The GPU machine cannot install packages; its image has nvcc, CMake, g++ and
# PyTorch (cuDNN and NCCL come with PyTorch's wheels there; scripts/device-check.sh finds them).
# Run here in the checkout the device tool sends (the session's own, not a helper's worktree),
# before the device call.
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
tar -C "$out/stage" -czf "$out/deps.tar.gz" include lib
rm -rf "$out/stage"
cp -r /usr/share/datasets/fashion-mnist "$out/fashion-mnist"
git check-ignore -q "$out" || { echo "pack-device-deps: $out is not git-ignored (.gitignore should name /.devdeps/)" >&2; exit 1; }
du -sh "$out"
