# Sanitizer flavours. The runtime tells the sanitizers about every stack switch
# (userspace/context.cpp), so the whole suite is meant to run under both.
if(MN_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  add_compile_definitions(MN_ASAN=1)
elseif(MN_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
  add_compile_definitions(MN_TSAN=1)
elseif(NOT MN_SANITIZE STREQUAL "")
  message(FATAL_ERROR "MN_SANITIZE must be '', 'address' or 'thread', not '${MN_SANITIZE}'")
endif()
