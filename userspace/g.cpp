#include "g.hpp"

namespace mn::detail {

const char* WaitReasonString(WaitReason r) {
  switch (r) {
    case WaitReason::kNone: return "";
    case WaitReason::kMutex: return "sync.Mutex.Lock";
    case WaitReason::kWaitGroup: return "sync.WaitGroup.Wait";
    case WaitReason::kSemaphore: return "semacquire";
    case WaitReason::kChanSend: return "chan send";
    case WaitReason::kChanRecv: return "chan receive";
    case WaitReason::kSelect: return "select";
    case WaitReason::kSelectNoCases: return "select (no cases)";
    case WaitReason::kSleep: return "sleep";
    case WaitReason::kCond: return "sync.Cond.Wait";
    case WaitReason::kRWMutexR: return "sync.RWMutex.RLock";
    case WaitReason::kRWMutexW: return "sync.RWMutex.Lock";
  }
  return "unknown";
}

}  // namespace mn::detail
