// Data-parallel pieces on ranks simulated by threads (tests/thread_communicator.h): synchronised
// BatchNorm against BatchNorm on the whole batch and against finite differences, the gradient
// reducer's weighted average, and the loader's shards. The runs across real MPI processes are
// scripts/test-distributed.sh.
#include <doctest/doctest.h>

#include <optional>
#include <thread>

#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/distributed/data_parallel.h"
#include "engine/distributed/gradient_reducer.h"
#include "engine/distributed/sync_batch_norm.h"
#include "engine/ops.h"
#include "tests/gradcheck.h"
#include "tests/thread_communicator.h"

using namespace kelvin;
using kelvin::testing::random_tensor;
using kelvin::testing::ThreadCommunicator;
using kelvin::testing::ThreadGroup;

namespace {

// Runs body(rank, communicator) on `ranks` threads at once.
void on_ranks(int ranks, const std::function<void(int, distributed::Communicator&)>& body) {
    ThreadGroup group(ranks);
    std::vector<std::thread> threads;
    std::vector<std::exception_ptr> errors(ranks);
    for (int r = 0; r < ranks; ++r)
        threads.emplace_back([&, r] {
            ThreadCommunicator communicator(group, r);
            try {
                body(r, communicator);
            } catch (...) {
                errors[r] = std::current_exception();
            }
        });
    for (auto& t : threads) t.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

// Sync BatchNorm of x [n, 3, 2, 2] cut into shards of rows [0, cut) and [cut, n), with the
// objective sum(y * projection), summed over the ranks. Returns the objective, and when
// `gradients`, dx (rows in order), and dweight, dbias summed over the replicas.
struct SyncResult {
    double objective = 0.0;
    std::vector<float> y, dx, dweight, dbias, running_mean, running_var;
};

SyncResult sync_bn_on_two_ranks(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                const Tensor& projection, int64_t cut, bool gradients) {
    const int64_t n = x.size(0);
    const int64_t bounds[3] = {0, cut, n};
    std::vector<double> objective(2);
    std::vector<std::vector<float>> y(2), dx(2), dw(2), db(2), rm(2), rv(2);
    on_ranks(2, [&](int r, distributed::Communicator& comm) {
        std::optional<NoGradGuard> no_grad;  // the finite differences need no graph
        if (!gradients) no_grad.emplace();
        Tensor xr = x.rows(bounds[r], bounds[r + 1]).clone().set_requires_grad(gradients);
        Tensor w = weight.clone().set_requires_grad(gradients);
        Tensor b = bias.clone().set_requires_grad(gradients);
        Tensor running_mean = Tensor::zeros({3}), running_var = Tensor::full({3}, 1.0f);
        Tensor out = distributed::sync_batch_norm2d(xr, w, b, running_mean, running_var, 0.1f,
                                                    1e-5f, comm);
        Tensor loss = ops::sum(ops::mul(out, projection.rows(bounds[r], bounds[r + 1])));
        objective[r] = loss.item();
        y[r] = out.to_vector();
        rm[r] = running_mean.to_vector();
        rv[r] = running_var.to_vector();
        if (!gradients) return;
        loss.backward();
        dx[r] = xr.grad().to_vector();
        dw[r] = w.grad().to_vector();
        db[r] = b.grad().to_vector();
    });
    SyncResult result;
    result.objective = objective[0] + objective[1];
    result.y = y[0];
    result.y.insert(result.y.end(), y[1].begin(), y[1].end());
    CHECK(rm[0] == rm[1]);  // every replica's running statistics move the same way
    CHECK(rv[0] == rv[1]);
    result.running_mean = rm[0];
    result.running_var = rv[0];
    if (!gradients) return result;
    result.dx = dx[0];
    result.dx.insert(result.dx.end(), dx[1].begin(), dx[1].end());
    for (int64_t c = 0; c < 3; ++c) {
        result.dweight.push_back(dw[0][c] + dw[1][c]);
        result.dbias.push_back(db[0][c] + db[1][c]);
    }
    return result;
}

void check_close(const std::vector<float>& a, const std::vector<float>& b, double tol,
                 const char* what) {
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i)
        CHECK_MESSAGE(std::fabs(a[i] - b[i]) <= tol * (1.0 + std::fabs(b[i])),
                      what << "[" << i << "]: " << a[i] << " vs " << b[i]);
}

}  // namespace

TEST_CASE("sync_batch_norm2d on 2 simulated ranks equals batch_norm2d on the whole batch") {
    // Unequal shards (5 and 2 samples): the global statistics weigh each sample once.
    Tensor x = random_tensor({7, 3, 2, 2}, 40, -2.0f, 3.0f);
    Tensor weight = random_tensor({3}, 41, 0.5f, 1.5f), bias = random_tensor({3}, 42);
    Tensor projection = random_tensor({7, 3, 2, 2}, 43);
    const SyncResult sync = sync_bn_on_two_ranks(x, weight, bias, projection, 5, true);

    Tensor xf = x.clone().set_requires_grad(true);
    Tensor wf = weight.clone().set_requires_grad(true), bf = bias.clone().set_requires_grad(true);
    Tensor rm = Tensor::zeros({3}), rv = Tensor::full({3}, 1.0f);
    Tensor y = ops::batch_norm2d(xf, wf, bf, rm, rv, true, 0.1f, 1e-5f);
    ops::sum(ops::mul(y, projection)).backward();
    // float32 results of double sums, apart from the shard moments' round trip: a few ulps.
    const double tol = 2e-6;
    check_close(sync.y, y.to_vector(), tol, "y");
    check_close(sync.dx, xf.grad().to_vector(), tol, "dx");
    check_close(sync.dweight, wf.grad().to_vector(), tol, "dweight");
    check_close(sync.dbias, bf.grad().to_vector(), tol, "dbias");
    check_close(sync.running_mean, rm.to_vector(), tol, "running_mean");
    check_close(sync.running_var, rv.to_vector(), tol, "running_var");
}

TEST_CASE("sync_batch_norm2d: gradients by finite differences across 2 simulated ranks") {
    Tensor x = random_tensor({5, 3, 2, 2}, 50, -1.0f, 2.0f);
    Tensor weight = random_tensor({3}, 51, 0.5f, 1.5f), bias = random_tensor({3}, 52);
    Tensor projection = random_tensor({5, 3, 2, 2}, 53);
    const SyncResult analytic = sync_bn_on_two_ranks(x, weight, bias, projection, 3, true);
    const float eps = 1e-2f;
    // d objective / d t[k] by central differences, t being x, weight or bias.
    auto numeric = [&](Tensor& t, int64_t k) {
        float* data = t.f32();
        const float saved = data[k];
        data[k] = saved + eps;
        const double plus = sync_bn_on_two_ranks(x, weight, bias, projection, 3, false).objective;
        data[k] = saved - eps;
        const double minus = sync_bn_on_two_ranks(x, weight, bias, projection, 3, false).objective;
        data[k] = saved;
        return (plus - minus) / (2.0 * eps);
    };
    auto check = [&](Tensor& t, const std::vector<float>& grad, const char* what) {
        for (int64_t k = 0; k < t.numel(); ++k) {
            const double fd = numeric(t, k);
            CHECK_MESSAGE(std::fabs(fd - grad[k]) <= 2e-3 + 2e-2 * std::fabs(fd),
                          what << "[" << k << "]: analytic " << grad[k] << " vs numeric " << fd);
        }
    };
    check(x, analytic.dx, "dx");  // both shards' rows: each depends on the other's through the sums
    check(weight, analytic.dweight, "dweight");
    check(bias, analytic.dbias, "dbias");
}

TEST_CASE("GradientReducer: the gradient of the global batch's mean loss from unequal shards") {
    // Rank r's gradient g_r over n_r samples; the reduced one is sum_r (n_r / N) g_r, on every
    // rank.
    const std::vector<int64_t> samples = {3, 1};
    std::vector<std::vector<float>> reduced(2);
    on_ranks(2, [&](int r, distributed::Communicator& comm) {
        Tensor a = Tensor::zeros({2, 3}).set_requires_grad(true);
        Tensor b = Tensor::zeros({5}).set_requires_grad(true);
        Tensor unused = Tensor::zeros({2}).set_requires_grad(true);  // no gradient on rank 1
        a.set_grad(Tensor::full({2, 3}, float(r + 1)));
        b.set_grad(Tensor::full({5}, float(10 * (r + 1))));
        if (r == 0) unused.set_grad(Tensor::full({2}, 4.0f));
        // 8-byte buckets: several buckets, one parameter across none.
        distributed::GradientReducer reducer({&a, &b, &unused}, comm, 8);
        CHECK(reducer.bucket_count() == 3);
        reducer.reduce(double(samples[r]) / 4.0);
        for (Tensor* t : {&a, &b, &unused})
            for (float v : t->grad().to_vector()) reduced[r].push_back(v);
    });
    CHECK(reduced[0] == reduced[1]);
    CHECK(reduced[0][0] == doctest::Approx(0.75 * 1 + 0.25 * 2));
    CHECK(reduced[0][6] == doctest::Approx(0.75 * 10 + 0.25 * 20));
    CHECK(reduced[0][11] == doctest::Approx(0.75 * 4));
}

namespace {

// One step's reduced gradients on 2 simulated ranks, the buckets' sums started during backward
// (overlap) or after it. w1 gets two contributions, so a bucket packed before its gradient is
// final would differ; `unused` (first, so in the last bucket) never gets one.
struct ReducedStep {
    std::vector<float> grads;
    int64_t started_early = 0;
};
ReducedStep reduced_step(int rank, distributed::Communicator& comm, bool overlap,
                         Device device = Device::CPU) {
    const auto param = [&](int64_t n, uint64_t seed) {
        return random_tensor({n}, seed).to(device).set_requires_grad(true);
    };
    Tensor unused = param(2, 20), w1 = param(4, 21), w2 = param(4, 22), w3 = param(4, 23);
    const Tensor x = random_tensor({4}, 30 + rank).to(device);  // each rank's own data
    const double share = rank == 0 ? 0.75 : 0.25;
    distributed::GradientReducer reducer({&unused, &w1, &w2, &w3}, comm, 8);
    {
        GradientReadyScope scope(overlap ? GradientReadyFn([&](const Tensor& p) {
            reducer.gradient_ready(p, share);
        })
                                         : GradientReadyFn());
        ops::sum(ops::mul(w3, ops::relu(ops::mul(w2, ops::mul(w1, ops::mul(w1, x))))))
            .backward();
    }
    reducer.reduce(share);
    ReducedStep out;
    out.started_early = reducer.buckets_started_early();
    for (Tensor* t : {&unused, &w1, &w2, &w3})
        for (float v : t->grad().to_vector()) out.grads.push_back(v);
    return out;
}

}  // namespace

TEST_CASE("GradientReducer: buckets in reverse parameter order, the same bits with overlap") {
    std::vector<ReducedStep> after(2), overlapped(2);
    on_ranks(2, [&](int r, distributed::Communicator& comm) {
        after[r] = reduced_step(r, comm, false);
        overlapped[r] = reduced_step(r, comm, true);
    });
    for (int r = 0; r < 2; ++r) {
        CHECK(overlapped[r].grads == after[r].grads);  // bitwise
        CHECK(after[r].started_early == 0);
        // w3, w2, w1's buckets started during backward; the unused parameter's after it.
        CHECK(overlapped[r].started_early == 3);
    }
    CHECK(after[0].grads == after[1].grads);
    CHECK(std::vector<float>(after[0].grads.begin(), after[0].grads.begin() + 2) ==
          std::vector<float>{0.0f, 0.0f});
    distributed::SingleProcess one;
    Tensor a = Tensor::zeros({2}), b = Tensor::zeros({3}), c = Tensor::zeros({1});
    distributed::GradientReducer reducer({&a, &b, &c}, one, 12);
    REQUIRE(reducer.bucket_count() == 2);
    CHECK(reducer.bucket_params(0) == std::vector<size_t>{2, 1});  // c, b: 4 floats >= 3
    CHECK(reducer.bucket_params(1) == std::vector<size_t>{0});
}

TEST_CASE("DataParallel: a non-finite loss on one rank stops every rank, naming it") {
    std::vector<int> seen(2, -2);
    std::vector<bool> agreed(2);
    on_ranks(2, [&](int r, distributed::Communicator& comm) {
        Tensor p = Tensor::zeros({2}).set_requires_grad(true);
        distributed::DataParallel parallel({&p}, {}, comm, false, true);
        const optim::StepHooks hooks = parallel.step_hooks(1, 2);
        agreed[r] = hooks.agree_finite(r == 0);  // rank 1's loss is NaN
        seen[r] = parallel.nonfinite_rank();
    });
    CHECK(agreed == std::vector<bool>{false, false});
    CHECK(seen == std::vector<int>{1, 1});
}

TEST_CASE("DataParallel: replicas whose parameters differ are an error naming the rank") {
    std::vector<std::string> errors(2);
    on_ranks(2, [&](int r, distributed::Communicator& comm) {
        Tensor p = Tensor::full({3}, r == 1 ? 1.5f : 1.0f);
        distributed::DataParallel parallel({&p}, {}, comm, false, true);
        try {
            parallel.check_replicas_agree();
        } catch (const Error& e) {
            errors[r] = e.what();
        }
        parallel.broadcast_from_root();  // rank 0's values everywhere: now they agree
        CHECK(p.to_vector() == std::vector<float>{1.0f, 1.0f, 1.0f});
        CHECK_NOTHROW(parallel.check_replicas_agree());
    });
    for (const auto& e : errors)
        CHECK(e.find("rank(s) 1 are not those of rank 0") != std::string::npos);
}

TEST_CASE("BatchLoader: the shards of a global batch are its consecutive parts, augmented alike") {
    data::HostDataset set;
    set.name = "shards";
    set.count = 11;
    set.channels = 1;
    set.height = set.width = 4;
    set.num_classes = 11;
    for (int64_t i = 0; i < set.count; ++i) {
        set.labels.push_back(static_cast<int32_t>(i));
        for (int k = 0; k < 16; ++k) set.pixels.push_back(static_cast<uint8_t>(i * 16 + k));
    }
    data::LoaderOptions o;
    o.batch_size = 6;  // batches of 6 and 5: the last is cut 2 + 3
    o.seed = 9;
    o.crop_padding = 1;
    o.horizontal_flip = true;
    auto epoch = [&](int shard, int shards) {
        data::LoaderOptions mine = o;
        mine.shard = shard;
        mine.shards = shards;
        data::BatchLoader loader(set, mine);
        loader.start_epoch(2);
        std::vector<data::Batch> batches;
        data::Batch b;
        while (loader.next(b)) batches.push_back(b);
        return batches;
    };
    const auto whole = epoch(0, 1), first = epoch(0, 2), second = epoch(1, 2);
    REQUIRE(whole.size() == 2);
    REQUIRE(first.size() == 2);
    REQUIRE(second.size() == 2);
    for (size_t b = 0; b < 2; ++b) {
        std::vector<int32_t> labels = first[b].labels.to_int_vector();
        for (int32_t v : second[b].labels.to_int_vector()) labels.push_back(v);
        CHECK(labels == whole[b].labels.to_int_vector());
        std::vector<float> images = first[b].images.to_vector();
        for (float v : second[b].images.to_vector()) images.push_back(v);
        CHECK(images == whole[b].images.to_vector());
        CHECK(first[b].global_size == whole[b].labels.numel());
    }
    CHECK(first[1].labels.numel() == 2);
    CHECK(second[1].labels.numel() == 3);
}

// The NCCL path on one rank (a real GPU in scripts/device-check.sh; the emulator's NCCL, served by
// MPI, in the emulated CUDA tests): the bucket gathered on the device, reduced on NCCL's stream,
// scattered back in order, weighted by the share.
TEST_CASE("cuda NCCL: the gradient reducer's device buckets on one rank" *
          doctest::skip(!cuda_available() || !distributed::nccl_built())) {
    distributed::SingleProcess one;
    Tensor a = Tensor::zeros({2, 3}, DType::F32, Device::CUDA).set_requires_grad(true);
    Tensor b = Tensor::zeros({5}, DType::F32, Device::CUDA).set_requires_grad(true);
    Tensor unused = Tensor::zeros({2}, DType::F32, Device::CUDA).set_requires_grad(true);
    a.set_grad(Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}, Device::CUDA));
    b.set_grad(Tensor::full({5}, 10.0f, Device::CUDA));
    {
        distributed::NcclGroup group(one);  // NCCL with one rank: the sum is the buffer itself
        Tensor buffer = Tensor::from_vector(std::vector<float>{1, -2, 3}, {3}, Device::CUDA);
        group.start_allreduce_sum(buffer.f32(), 3);
        group.wait_started();
        CHECK(buffer.to_vector() == std::vector<float>{1, -2, 3});
    }
    // A world of one that still weighs by a share (0.5) goes through the buckets.
    distributed::GradientReducer reducer({&a, &b, &unused}, one, 8);
    reducer.reduce(0.5);
    CHECK(a.grad().to_vector() == std::vector<float>{0.5f, 1, 1.5f, 2, 2.5f, 3});
    CHECK(b.grad().to_vector() == std::vector<float>(5, 5.0f));
    CHECK(unused.grad().to_vector() == std::vector<float>(2, 0.0f));
    CHECK(a.grad().is_cuda());
    // Overlapped: the buckets' sums start on NCCL's stream during backward, beside the backward
    // kernels still queued on kelvin's stream; the same bits as after backward.
    const ReducedStep after = reduced_step(0, one, false, Device::CUDA);
    const ReducedStep overlapped = reduced_step(0, one, true, Device::CUDA);
    CHECK(overlapped.grads == after.grads);
    CHECK(overlapped.started_early == 3);
    CHECK(after.started_early == 0);
}
