// Microbenchmarks of the scheduler's parts (Google Benchmark). Times here are for
// comparison between builds on one machine; the targets in docs/benchmarks.md.
#include <benchmark/benchmark.h>
#include <mn/mn.hpp>

#include <cstdlib>
#include <vector>

#include "context.hpp"
#include "runq.hpp"

namespace {

using mn::detail::Context;

// Raw switch: two contexts bouncing; each iteration is one switch there and one back.
struct PingCtx {
  Context main, fiber;
  benchmark::State* state;
};

void FiberBody(void* arg) {
  auto* c = static_cast<PingCtx*>(arg);
  mn::detail::ContextEntered();
  for (;;) mn::detail::SwitchContext(&c->fiber, &c->main);
}

void BM_ContextSwitch(benchmark::State& state) {
  PingCtx c;
  constexpr size_t kStack = 64 * 1024;
  std::vector<char> stack(kStack);
  mn::detail::InitThreadContext(&c.main);
  mn::detail::MakeContext(&c.fiber, stack.data() + kStack, &FiberBody, &c);
  c.fiber.stack_lo = stack.data();
  c.fiber.stack_size = kStack;
  for (auto _ : state) mn::detail::SwitchContext(&c.main, &c.fiber);
  // Two switches per iteration: report per switch.
  state.counters["ns_per_switch"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * 2, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  mn::detail::DestroyContext(&c.fiber);
}
BENCHMARK(BM_ContextSwitch);

// spawn + run + exit of an empty G on one P, amortized over batches of 100.
void BM_SpawnRunExit(benchmark::State& state) {
  mn::run(
      [&] {
        mn::WaitGroup wg;
        int batch = 0;
        for (auto _ : state) {
          wg.add(1);
          mn::go([&wg] { wg.done(); });
          if (++batch == 100) {
            wg.wait();
            batch = 0;
          }
        }
        wg.wait();
      },
      mn::Options{.procs = 1});
}
BENCHMARK(BM_SpawnRunExit);

// mn::yield() with nothing else to run: G -> g0 -> global queue -> G.
void BM_Yield(benchmark::State& state) {
  mn::run([&] {
    for (auto _ : state) mn::yield();
  }, mn::Options{.procs = 1});
}
BENCHMARK(BM_Yield);

// mn::blocking with an empty body in a G on one P: entering and leaving a blocking call
// (Go's entersyscall + exitsyscall) and nothing else.
void BM_BlockingEmpty(benchmark::State& state) {
  mn::run([&] {
    for (auto _ : state) mn::blocking([] { benchmark::ClobberMemory(); });
  }, mn::Options{.procs = 1});
}
BENCHMARK(BM_BlockingEmpty);

// The ring's operations, single-threaded.
void BM_RunqPutGet(benchmark::State& state) {
  static mn::detail::RunQueue q;
  std::vector<mn::detail::G> gs(128);
  bool inherit;
  for (auto _ : state) {
    for (auto& g : gs) {
      mn::detail::GQueue spill;
      q.Put(&g, &spill);
    }
    for (size_t i = 0; i < gs.size(); i++) benchmark::DoNotOptimize(q.Get(&inherit));
  }
  state.SetItemsProcessed(state.iterations() * 128);
}
BENCHMARK(BM_RunqPutGet);

void BM_RunqSteal(benchmark::State& state) {
  static mn::detail::RunQueue victim, thief;
  std::vector<mn::detail::G> gs(128);
  bool inherit;
  for (auto _ : state) {
    for (auto& g : gs) {
      mn::detail::GQueue spill;
      victim.Put(&g, &spill);
    }
    while (thief.StealFrom(victim, false, false) != nullptr) {
      while (thief.Get(&inherit) != nullptr) {}
    }
  }
  state.SetItemsProcessed(state.iterations() * 128);
}
BENCHMARK(BM_RunqSteal);

}  // namespace

BENCHMARK_MAIN();
