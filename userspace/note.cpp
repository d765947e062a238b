#include "note.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace mn::detail {

void FutexWait(std::atomic<uint32_t>* addr, uint32_t expected, int64_t timeout_ns) {
  timespec ts{};
  timespec* tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    tsp = &ts;
  }
  // EINTR, EAGAIN (value changed) and ETIMEDOUT all mean "re-check": callers loop.
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAIT_PRIVATE, expected, tsp,
          nullptr, 0);
}

void FutexWake(std::atomic<uint32_t>* addr, int count) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAKE_PRIVATE, count, nullptr,
          nullptr, 0);
}

void Note::Wakeup() {
  // release pairs with the acquire loads in Sleep/SleepFor.
  if (key_.exchange(1, std::memory_order_release) != 0) {
    std::fprintf(stderr, "mn: fatal: notewakeup - double wakeup\n");
    std::abort();
  }
  FutexWake(&key_, 1);
}

void Note::Sleep() {
  while (key_.load(std::memory_order_acquire) == 0) FutexWait(&key_, 0);
}

bool Note::SleepFor(int64_t timeout_ns) {
  int64_t deadline = NanoTime() + timeout_ns;
  while (key_.load(std::memory_order_acquire) == 0) {
    int64_t left = deadline - NanoTime();
    if (left <= 0) return false;
    FutexWait(&key_, 0, left);
  }
  return true;
}

int64_t NanoTime() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace mn::detail
