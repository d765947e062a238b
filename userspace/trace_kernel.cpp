// TraceKernel: see trace_kernel.hpp for the invariants, bpf/mn_record.bpf.h
// (trace_switch_in) for what a record holds, and trace_json.cpp (PlaceOne) for where its
// slices go.
#include "trace_kernel.hpp"

#include <atomic>

#include "sched.hpp"

#if MN_WITH_BPF
#include <bpf/libbpf.h>
#endif

namespace mn::detail {

#if MN_WITH_BPF

namespace {
int OnRecord(void* ctx, void* data, size_t size) {
  auto* k = static_cast<TraceKernel*>(ctx);
  if (size >= sizeof(mn_trace_record)) k->Deliver(*static_cast<const mn_trace_record*>(data));
  return 0;
}
}  // namespace

std::unique_ptr<TraceKernel> TraceKernel::Open(Runtime* rt) {
  if (rt->ktel == nullptr || rt->ktel->rt_state() == nullptr || rt->ktel->trace_events_fd() < 0) {
    return nullptr;
  }
  std::unique_ptr<TraceKernel> k(new TraceKernel());
  k->rt_ = rt;
  k->rb_ = ring_buffer__new(rt->ktel->trace_events_fd(), &OnRecord, k.get(), nullptr);
  if (k->rb_ == nullptr) return nullptr;
  // A previous trace's last records: out_ is null, so they are read and dropped.
  ring_buffer__consume(static_cast<ring_buffer*>(k->rb_));
  mn_rt_state* st = rt->ktel->rt_state();
  k->lost0_ = std::atomic_ref<__u64>(st->trace_lost).load(std::memory_order_relaxed);
  // The programs read it alone, as a sample: records start at their next switch-in.
  std::atomic_ref<__u32>(st->trace_on).store(1, std::memory_order_relaxed);
  return k;
}

TraceKernel::~TraceKernel() {
  if (rt_ != nullptr) {
    std::atomic_ref<__u32>(rt_->ktel->rt_state()->trace_on).store(0, std::memory_order_relaxed);
  }
  if (rb_ != nullptr) ring_buffer__free(static_cast<ring_buffer*>(rb_));
}

void TraceKernel::Poll(std::vector<mn_trace_record>* out) {
  out_ = out;
  ring_buffer__consume(static_cast<ring_buffer*>(rb_));
  out_ = nullptr;
}

void TraceKernel::Deliver(const mn_trace_record& r) {
  if (out_ != nullptr && r.m >= 0) out_->push_back(r);
}

int64_t TraceKernel::lost() const {
  __u64 now = std::atomic_ref<__u64>(rt_->ktel->rt_state()->trace_lost).load(std::memory_order_relaxed);
  return static_cast<int64_t>(now - lost0_);
}

#else  // !MN_WITH_BPF

std::unique_ptr<TraceKernel> TraceKernel::Open(Runtime*) { return nullptr; }
TraceKernel::~TraceKernel() = default;
void TraceKernel::Poll(std::vector<mn_trace_record>*) {}
void TraceKernel::Deliver(const mn_trace_record&) {}
int64_t TraceKernel::lost() const { return 0; }

#endif  // MN_WITH_BPF

}  // namespace mn::detail
