// TraceKernel: see trace_kernel.hpp.
#include "trace_kernel.hpp"

#include "sched.hpp"
#include "trace_json.hpp"

namespace mn::detail {

std::unique_ptr<TraceKernel> TraceKernel::Open(Runtime*, int64_t) { return nullptr; }
TraceKernel::~TraceKernel() = default;
void TraceKernel::Poll(TraceJson*) {}
int64_t TraceKernel::lost() const { return 0; }

}  // namespace mn::detail
