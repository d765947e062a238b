// The skynet tree (shared by bench/skynet, examples/demo and tests/sched_test), written as
// Go's classic version is: a node of `size` leaves starts 10 children as Gs, each covering
// a tenth of its range and sending its sum on the node's unbuffered channel; a leaf sends
// its ordinal.
#pragma once

#include <mn/mn.hpp>

#include <cstdint>

namespace mn_bench {

inline void Skynet(const mn::Chan<int64_t>& out, int64_t num, int64_t size) {
  if (size == 1) {
    out.send(num);
    return;
  }
  int64_t sub = size / 10;
  mn::Chan<int64_t> rc;
  for (int i = 0; i < 10; i++) {
    mn::go([rc, num, sub, i] { Skynet(rc, num + i * sub, sub); });
  }
  int64_t sum = 0;
  for (int i = 0; i < 10; i++) sum += *rc.recv();
  out.send(sum);
}

// The sum over a tree of `size` leaves, computed by Gs.
inline int64_t SkynetTree(int64_t num, int64_t size) {
  mn::Chan<int64_t> c(1);
  Skynet(c, num, size);
  return *c.recv();
}

}  // namespace mn_bench
