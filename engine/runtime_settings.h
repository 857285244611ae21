// Process-wide CPU settings made once at start-up, before any worker thread exists.
//
// Flush-to-zero for subnormal floats. At high temperature the loss gradients are scaled by
// 1/(T*N), and the products that reach the weights fall into the subnormal range, where x86
// arithmetic is 10-100x slower: a T = 100 MLP epoch measured 30x slower than T = 1 without this.
// Flushing values below ~1e-38 to zero changes nothing a float32 network can represent usefully.
// MXCSR is per thread, and threads inherit it from their creator, so call this first in main(),
// before any worker thread (OpenMP, the loader) exists.
#pragma once

namespace kelvin {
void flush_subnormals_to_zero();

// OpenMP's worker threads spin after each parallel region. On a machine busy with other work
// (2 cores and a compiler running, say) a spinning thread waits for a partner that is not
// scheduled, and a training step measured 4-10x slower than with sleeping waits
// (OMP_WAIT_POLICY=passive), which cost little on an idle machine. libgomp reads its settings
// when it loads, before main(), so when neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set this
// sets passive and re-executes the program once. Call first thing in main().
void prefer_passive_openmp_waits(char** argv);
}
