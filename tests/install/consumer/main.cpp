// Consumer of an *installed* mnsched (see ../run.sh): built once via find_package and once
// via pkg-config. Uses only the public API from <mn/mn.hpp>.
#include <mn/mn.hpp>
#include <atomic>
#include <cstdio>
int main() {
  std::atomic<int> n{0};
  int rc = mn::run([&] {
    mn::WaitGroup wg;
    for (int i = 0; i < 100; i++) { wg.add(1); mn::go([&] { n.fetch_add(1); wg.done(); }); }
    wg.wait();
    return n.load() == 100 ? 0 : 1;
  }, mn::Options{.procs = 2});
  std::printf("consumer ok n=%d rc=%d\n", n.load(), rc);
  return rc;
}
