// mnsched: an M:N runtime in the image of Go's scheduler. This header brings in the whole
// public API. See README.md for a quick start and docs/design.md for the design.
#pragma once

#include "mn/blocking.hpp"
#include "mn/chan.hpp"
#include "mn/cond.hpp"
#include "mn/context.hpp"
#include "mn/kernel_feedback.hpp"
#include "mn/mutex.hpp"
#include "mn/net.hpp"
#include "mn/netpoll.hpp"
#include "mn/once.hpp"
#include "mn/options.hpp"
#include "mn/runtime.hpp"
#include "mn/rwmutex.hpp"
#include "mn/select.hpp"
#include "mn/semaphore.hpp"
#include "mn/stats.hpp"
#include "mn/syscalls.hpp"
#include "mn/timer.hpp"
#include "mn/trace.hpp"
#include "mn/waitgroup.hpp"
