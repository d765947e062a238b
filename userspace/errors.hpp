// The one shape of an IO error (docs/errors.md): absl::ErrnoToStatus's code and message,
// with the errno itself as a payload that mn::sys::errno_of reads back.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mn::detail {

// "<op>: <strerror>", code from the errno, errno attached.
absl::Status ErrnoError(int err, absl::string_view op);

}  // namespace mn::detail
