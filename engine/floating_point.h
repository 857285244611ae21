// Flush-to-zero for subnormal floats. At high temperature the loss gradients are scaled by
// 1/(T*N), and the products that reach the weights fall into the subnormal range, where x86
// arithmetic is 10-100x slower: a T = 100 MLP epoch measured 30x slower than T = 1 without this.
// Flushing values below ~1e-38 to zero changes nothing a float32 network can represent usefully.
// MXCSR is per thread, and threads inherit it from their creator, so call this first in main(),
// before any worker thread (OpenMP, the loader) exists.
#pragma once

namespace kelvin {
void flush_subnormals_to_zero();
}
