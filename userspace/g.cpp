#include "g.hpp"

namespace mn::detail {

const char* WaitReasonString(WaitReason r) {
  switch (r) {
    case WaitReason::kNone: return "";
    case WaitReason::kMutex: return "mn::Mutex::lock";
    case WaitReason::kWaitGroup: return "mn::WaitGroup::wait";
    case WaitReason::kSemaphore: return "semaphore acquire";
    case WaitReason::kChanSend: return "chan send";
    case WaitReason::kChanRecv: return "chan receive";
    case WaitReason::kSelect: return "select";
    case WaitReason::kSelectNoCases: return "select (no cases)";
    case WaitReason::kSleep: return "sleep";
    case WaitReason::kCond: return "mn::Cond::wait";
    case WaitReason::kRWMutexR: return "mn::RWMutex::lock_shared";
    case WaitReason::kRWMutexW: return "mn::RWMutex::lock";
    case WaitReason::kIORead: return "IO wait (read)";
    case WaitReason::kIOWrite: return "IO wait (write)";
  }
  return "unknown";
}

}  // namespace mn::detail
