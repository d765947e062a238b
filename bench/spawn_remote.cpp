// spawn_remote: a plain std::thread outside the runtime spawns n empty Gs (default 10,000)
// with mn::go while the main G waits for them on an mn::WaitGroup; R rounds of that
// (default 100). From outside the runtime mn::go puts each G on the global queue and wakes
// an M, so this measures that path: spawn from outside + run + exit, per task. The thread
// is started before the clock and does every round: the main G adds n to the WaitGroup,
// sends the round on an unbuffered channel the thread waits on, and waits. Each task marks
// its own slot, so every slot must end at R. bench/go/spawnremote is Go's side (a
// goroutine locked to its thread: Go has no threads outside its runtime). The flags, the
// rounds, the output and the check are bench/spawn_rounds.hpp's (shared with spawn_many);
// this file spawns the tasks.
// Output (one line, parsed by bench/run-compare.sh):
//   spawn_remote system=mnsched procs=<P> n=<N> rounds=<R> ms=<wall ms> ns_per_task=<x.x>
// ns_per_task is the total time over n*R.
// Exit status: 0 on success, 1 if a task did not run exactly once per round, 2 on bad
// arguments.
// MN_PROCS sets the number of Ps, as for any mnsched program.
#include <mn/mn.hpp>

#include <cstdint>
#include <thread>

#include "spawn_rounds.hpp"

namespace {

// A thread outside the runtime spawns each round's tasks when the main G sends it the round.
class RemoteSpawner {
 public:
  RemoteSpawner(int64_t n, mn_bench::SpawnTask task)
      : spawner_([n, task, start = start_] {  // outside the runtime: mn::go from a thread
          for (int64_t r : start) {
            (void)r;
            for (int64_t i = 0; i < n; i++) {
              mn::go([task, i] { task(i); });
            }
          }
        }) {}

  void round(int64_t r) { start_.send(r); }
  void finish() {
    start_.close();
    mn::blocking_now([this] { spawner_.join(); });
  }

 private:
  mn::Chan<int64_t> start_;  // unbuffered: round r starts when the spawner takes r
  std::thread spawner_;      // after start_, which it copies
};

}  // namespace

int main(int argc, char** argv) {
  return mn_bench::SpawnRounds<RemoteSpawner>(argc, argv, "spawn_remote");
}
