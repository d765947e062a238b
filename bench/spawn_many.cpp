// spawn_many: the main G spawns n empty Gs (default 10,000) and waits for them all on an
// mn::WaitGroup; R rounds of that (default 100). Measures spawn + run + exit of a G, and
// the wait, per task. Each task marks its own slot, so every slot must end at R.
// bench/go/spawnmany is Go's side. The flags, the rounds, the output and the check are
// bench/spawn_rounds.hpp's (shared with spawn_remote); this file spawns the tasks.
// Output (one line, parsed by bench/run-compare.sh):
//   spawn_many system=mnsched procs=<P> n=<N> rounds=<R> ms=<wall ms> ns_per_task=<x.x>
// ns_per_task is the total time over n*R.
// Exit status: 0 on success, 1 if a task did not run exactly once per round, 2 on bad
// arguments.
// MN_PROCS sets the number of Ps, as for any mnsched program.
#include <mn/mn.hpp>

#include <cstdint>

#include "spawn_rounds.hpp"

namespace {

// The main G spawns each round's tasks itself.
class LocalSpawner {
 public:
  LocalSpawner(int64_t n, mn_bench::SpawnTask task) : n_(n), task_(task) {}

  void round(int64_t /*r*/) {
    for (int64_t i = 0; i < n_; i++) {
      mn::go([task = task_, i] { task(i); });
    }
  }
  void finish() {}

 private:
  const int64_t n_;
  const mn_bench::SpawnTask task_;
};

}  // namespace

int main(int argc, char** argv) {
  return mn_bench::SpawnRounds<LocalSpawner>(argc, argv, "spawn_many");
}
