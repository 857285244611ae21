#include "engine/autograd.h"

#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "engine/ops.h"
#include "engine/trace.h"

namespace kelvin {

namespace {
thread_local bool g_grad_enabled = true;
thread_local GradientReadyFn g_gradient_ready;

// The leaves among a node's inputs that backward accumulates into (gradient-ready counting).
bool is_accumulated_leaf(const Tensor& input) {
    return input.defined() && input.requires_grad() && !input.grad_fn();
}
// With a listener (GradientReadyScope): how many edges of the graph still lead into each leaf;
// a leaf's gradient is final, and reported, when the last node taking it as an input has been
// visited. Without one, nothing is counted.
class ReadyLeaves {
public:
    explicit ReadyLeaves(const std::vector<std::shared_ptr<Node>>& order) {
        if (!g_gradient_ready) return;
        for (const auto& node : order)
            for (const Tensor& input : node->inputs)
                if (is_accumulated_leaf(input)) ++edges_left_[input.impl()];
    }
    // `node` has run, or was skipped (no gradient reached it): its inputs are done with.
    void visited(const Node& node) {
        if (!g_gradient_ready) return;
        for (const Tensor& input : node.inputs)
            if (is_accumulated_leaf(input) && --edges_left_[input.impl()] == 0 &&
                input.impl()->grad)
                g_gradient_ready(input);
    }

private:
    std::unordered_map<TensorImpl*, int64_t> edges_left_;
};

}  // namespace

GradientReadyScope::GradientReadyScope(GradientReadyFn fn)
    : previous_(std::exchange(g_gradient_ready, std::move(fn))) {}
GradientReadyScope::~GradientReadyScope() { g_gradient_ready = std::move(previous_); }

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
    if (!g_grad_enabled) return false;
    for (const Tensor* t : inputs)
        if (t && t->defined() && t->requires_grad()) return true;
    return false;
}

Tensor record(Tensor output, const char* name, std::vector<Tensor> inputs, BackwardFn backward) {
    if (!g_grad_enabled) return output;
    bool any = false;
    for (const Tensor& t : inputs) any = any || (t.defined() && t.requires_grad());
    if (!any) return output;
    auto node = std::make_shared<Node>();
    node->name = name;
    node->inputs = std::move(inputs);
    node->backward = std::move(backward);
    output.impl()->requires_grad = true;
    output.impl()->grad_fn = std::move(node);
    return output;
}

void accumulate(Tensor& dst, const Tensor& src) {
    KELVIN_CHECK(dst.shape() == src.shape(), "gradient shape mismatch: " + dst.describe() +
                                                 " vs " + src.describe());
    ops::add_inplace(dst, src);
}

void Tensor::backward(const Tensor& seed) const {
    KELVIN_CHECK(requires_grad(), "backward() on a tensor that does not require a gradient");
    Tensor root_grad = seed;
    if (!root_grad.defined()) {
        KELVIN_CHECK(numel() == 1, "backward() without a seed needs a scalar, got " + describe());
        root_grad = Tensor::full(shape(), 1.0f, device());
    }
    if (!grad_fn()) {  // a leaf: its gradient is the seed
        Tensor g = impl()->grad ? Tensor(impl()->grad) : Tensor();
        if (g.defined()) accumulate(g, root_grad);
        else impl()->grad = root_grad.clone().impl_ptr();
        if (g_gradient_ready) g_gradient_ready(*this);
        return;
    }

    // Reverse topological order by iterative depth-first search. `order` owns the nodes: a
    // node's inputs (and with them the nodes below) are released as soon as it has run.
    std::vector<std::shared_ptr<Node>> order;
    std::unordered_set<Node*> visited;
    std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{grad_fn(), 0}};
    visited.insert(grad_fn().get());
    while (!stack.empty()) {
        auto& [node, next] = stack.back();
        if (next < node->inputs.size()) {
            const Tensor& in = node->inputs[next++];
            std::shared_ptr<Node> child = in.defined() ? in.grad_fn() : nullptr;
            if (child && visited.insert(child.get()).second) stack.push_back({child, 0});
        } else {
            order.push_back(std::move(node));
            stack.pop_back();
        }
    }

    ReadyLeaves ready(order);
    std::unordered_map<Node*, Tensor> pending;  // gradient flowing into each node's output
    pending[grad_fn().get()] = root_grad;
    NoGradGuard no_grad;  // backward passes are not themselves recorded
    trace::PhaseScope phase("backward");
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        Node* node = it->get();
        auto found = pending.find(node);
        if (found == pending.end()) {  // no gradient reached this node
            ready.visited(*node);
            continue;
        }
        Tensor grad_output = std::move(found->second);
        pending.erase(found);
        std::vector<Tensor> grads;
        {
            trace::Scope scope(node->name.c_str(), "op", grad_output.device());
            grads = node->backward(grad_output);
        }
        KELVIN_CHECK(grads.size() == node->inputs.size(),
                     std::string("internal: backward of ") + node->name + " returned " +
                         std::to_string(grads.size()) + " gradients for " +
                         std::to_string(node->inputs.size()) + " inputs");
        for (size_t i = 0; i < grads.size(); ++i) {
            const Tensor& input = node->inputs[i];
            Tensor& g = grads[i];
            if (!g.defined() || !input.defined() || !input.requires_grad()) continue;
            KELVIN_CHECK(g.shape() == input.shape(),
                         std::string("internal: backward of ") + node->name + " gave gradient " +
                             g.describe() + " for input " + input.describe());
            if (Node* child = input.grad_fn().get()) {
                auto slot = pending.find(child);
                if (slot == pending.end()) pending.emplace(child, std::move(g));
                else {
                    // The slot may alias a tensor another node still reads: add out of place.
                    slot->second = ops::add(slot->second, g);
                }
            } else if (input.impl()->grad) {
                Tensor existing(input.impl()->grad);
                accumulate(existing, g);
            } else {
                // Own the buffer: a gradient may share storage with another (add passes its
                // gradient through to both inputs), and leaf gradients are later updated in place.
                input.impl()->grad = g.impl()->storage.use_count() > 1 ? g.clone().impl_ptr()
                                                                      : g.impl_ptr();
            }
        }
        ready.visited(*node);
        // Free what the forward pass saved; the graph is single-use.
        node->backward = nullptr;
        node->inputs.clear();
    }
}

}  // namespace kelvin
