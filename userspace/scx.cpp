// Placeholder until the loader lands (branch scx-sched): every Load fails.
#include "scx.hpp"
namespace mn::detail {
std::string ScxScheduler::Preflight() { return "stub"; }
std::string ScxScheduler::State() { return ""; }
std::string ScxScheduler::OpsName() { return ""; }
absl::StatusOr<std::unique_ptr<ScxScheduler>> ScxScheduler::Load(ScxMode) { return absl::UnavailableError("stub"); }
ScxScheduler::~ScxScheduler() {}
absl::Status ScxScheduler::AddRuntime(uint32_t, int, int, int, int) { return absl::OkStatus(); }
void ScxScheduler::RemoveRuntime(uint32_t) {}
bool ScxScheduler::Alive(mn_scx_exit*) const { return true; }
mn_scx_stats ScxScheduler::Stats() const { return {}; }
absl::Status SetSchedExt(pid_t) { return absl::OkStatus(); }
absl::Status SetSchedOther(pid_t) { return absl::OkStatus(); }
int SchedPolicyOf(pid_t) { return 0; }
}
