// The README's channel example: a producer, a squaring stage, and a consumer that stops at
// close or after a second without results.
#include <mn/mn.hpp>

#include <chrono>
#include <cstdio>
#include <optional>

int main() {
  return mn::run([] {
    mn::Chan<int> jobs(16), results;
    mn::go([=] { for (int j : jobs) results.send(j * j); results.close(); });
    mn::go([=] { for (int i = 0; i < 100; i++) jobs.send(i); jobs.close(); });
    long sum = 0;
    for (;;) {
      bool more = true;
      mn::select(mn::on_recv(results, [&](std::optional<int> r) {
                   if (r) sum += *r; else more = false;
                 }),
                 mn::on_timeout(std::chrono::seconds(1), [&] { more = false; }));
      if (!more) break;
    }
    std::printf("sum of squares 0..99 = %ld\n", sum);
    return sum == 328350 ? 0 : 1;
  });
}
