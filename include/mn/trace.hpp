// Execution tracing: what the scheduler did, recorded into a Chrome trace-event JSON file
// that ui.perfetto.dev and chrome://tracing open (docs/tracing.md: the format and the
// cost). MN_TRACE=<file> (or Options::trace_path) records a whole run; these functions
// record a part of one.
//
// Errors (docs/errors.md): a file that cannot be written is an absl::Status naming it;
// starting while a trace is being recorded, or with no runtime active, is
// FailedPrecondition.
#pragma once

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"

namespace mn {

// Starts recording the active runtime into `path` (created or truncated now). ring_mib
// > 0 keeps only about the last ring_mib MiB of events, written at trace_stop; 0 streams
// every event to the file as it goes. Callable from a G or from any thread.
absl::Status trace_start(std::string_view path, std::size_t ring_mib = 0);

// Stops recording and completes the file. The runtime's own end (the return of the main
// G) stops a trace still running.
absl::Status trace_stop();

}  // namespace mn
