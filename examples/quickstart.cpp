// The README's quick start: fan out work to Gs, wait for them, guard shared state.
#include <mn/mn.hpp>

#include <cstdio>
#include <mutex>

int main() {
  return mn::run([] {
    mn::WaitGroup wg;
    mn::Mutex mu;
    long total = 0;
    for (int i = 1; i <= 1000; i++) {
      wg.add(1);
      mn::go([&, i] {
        std::lock_guard<mn::Mutex> lock(mu);
        total += i;
        wg.done();
      });
    }
    wg.wait();
    std::printf("sum of 1..1000 = %ld\n", total);
    return total == 500500 ? 0 : 1;
  });
}
