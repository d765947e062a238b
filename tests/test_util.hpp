// Helpers shared by the tests.
#pragma once

namespace mn::testing_util {

// TSan counts every started G (a fiber) as a thread and allows about 8,000 at once, so
// tests that keep more Gs started at the same time shrink under it.
#if defined(__SANITIZE_THREAD__)
inline constexpr bool kUnderTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kUnderTsan = true;
#else
inline constexpr bool kUnderTsan = false;
#endif
#else
inline constexpr bool kUnderTsan = false;
#endif

}  // namespace mn::testing_util
