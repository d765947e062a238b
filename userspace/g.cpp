#include "g.hpp"

namespace mn::detail {

const char* WaitReasonString(WaitReason r) {
  switch (r) {
    case WaitReason::kNone: return "";
    case WaitReason::kMutex: return "sync.Mutex.Lock";
    case WaitReason::kWaitGroup: return "sync.WaitGroup.Wait";
    case WaitReason::kSemaphore: return "semacquire";
  }
  return "unknown";
}

}  // namespace mn::detail
