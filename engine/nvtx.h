// NVTX ranges for Nsight Systems (`nsys profile --trace=cuda,nvtx build/kelvin bench ...`):
// engine/trace.h's scopes push one range per op, kernel and training step, and PhaseScope one
// per phase, in the "kelvin" domain with the kind as the range's category. Compiled only where
// the CUDA toolkit (and so the header-only NVTX 3) is; elsewhere these are empty inlines.
// Zero cost without a tool: NVTX loads a tool only from NVTX_INJECTION64_PATH, which Nsight
// sets for the process it launches; when it is unset at start-up, attached() is false and the
// scopes skip NVTX entirely (one predictable branch, as for tracing).
#pragma once

namespace kelvin::nvtx {

#if KELVIN_NVTX
extern const bool g_attached;
inline bool attached() { return g_attached; }
void push(const char* name, const char* kind);  // kind: op, kernel, step or phase
void pop();
#else
inline bool attached() { return false; }
inline void push(const char*, const char*) {}
inline void pop() {}
#endif

}  // namespace kelvin::nvtx
