// The skynet tree (shared by bench/skynet, examples/demo and tests/sched_test): a node of
// `size` leaves spawns 10 children as Gs, each covering a tenth of its range, and sums
// them; a leaf returns its ordinal. Children report through a slot in the parent's frame
// and a WaitGroup until channels exist.
#pragma once

#include <mn/mn.hpp>

#include <cstdint>

namespace mn_bench {

inline int64_t SkynetTree(int64_t num, int64_t size) {
  if (size == 1) return num;
  int64_t sub = size / 10;
  int64_t results[10];
  mn::WaitGroup wg;
  wg.add(10);
  for (int i = 0; i < 10; i++) {
    mn::go([&results, &wg, i, num, sub] {
      results[i] = SkynetTree(num + i * sub, sub);
      wg.done();
    });
  }
  wg.wait();
  int64_t sum = 0;
  for (int64_t r : results) sum += r;
  return sum;
}

}  // namespace mn_bench
