// Define-by-run reverse-mode autograd. Every recorded op creates one Node that remembers the
// inputs it needs gradients for and a closure holding whatever it saved from the forward pass.
// backward() visits nodes in reverse topological order, accumulates gradients, and drops each
// node's closure once it has run, so saved activations are freed as the pass goes.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace kelvin {

// Given the gradient of the op's output, returns one gradient per input (an undefined Tensor
// for inputs that need none).
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
    std::string name;
    std::vector<Tensor> inputs;
    BackwardFn backward;
};

// Gradient recording is on by default; NoGradGuard turns it off for a scope (evaluation).
bool grad_enabled();
class NoGradGuard {
public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool previous_;
};

// True when recording is on and some input requires a gradient.
bool needs_grad(std::initializer_list<const Tensor*> inputs);

// Attaches a backward node to `output` when any input requires a gradient and recording is on.
// Returns `output` for chaining.
Tensor record(Tensor output, const char* name, std::vector<Tensor> inputs, BackwardFn backward);

// Gradient-ready listener (data-parallel training: a bucket of gradients can be all-reduced while
// backward still runs, engine/distributed/gradient_reducer.h). While a GradientReadyScope is alive
// on this thread, backward() calls its function once for every leaf that requires a gradient and
// has one, as soon as that gradient is final for this pass: every node of the graph that
// takes the leaf as an input has run (or was skipped because no gradient reached it). A leaf
// reached by no edge of the graph is not reported. An empty function is no listener.
using GradientReadyFn = std::function<void(const Tensor& leaf)>;
class GradientReadyScope {
public:
    explicit GradientReadyScope(GradientReadyFn fn);
    ~GradientReadyScope();
    GradientReadyScope(const GradientReadyScope&) = delete;
    GradientReadyScope& operator=(const GradientReadyScope&) = delete;

private:
    GradientReadyFn previous_;
};

// Adds src into dst's storage (same shape, same device); used to accumulate gradients.
void accumulate(Tensor& dst, const Tensor& src);

}  // namespace kelvin
