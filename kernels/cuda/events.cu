// CUDA events for the tracer: an event pair around a kernel launch measures its device time.
#include "kernels/cuda/context.cuh"

namespace kelvin::cuda {

void* event_record() {
    cudaEvent_t event;
    CUDA_CHECK(cudaEventCreate(&event));
    CUDA_CHECK(cudaEventRecord(event, current_stream()));
    return event;
}

float event_elapsed_ms(void* start, void* end) {
    CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(end)));
    float ms = 0.0f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)));
    return ms;
}

void event_destroy(void* event) { CUDA_CHECK(cudaEventDestroy(static_cast<cudaEvent_t>(event))); }

}  // namespace kelvin::cuda
