# Warning flags for every target of the project (STYLE.md's list and a few more).
set(SS_WARNINGS
  -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wformat=2 -Wpointer-arith -Wcast-align -Wwrite-strings -Wvla -Wundef
  -Wno-unused-parameter)
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  list(APPEND SS_WARNINGS -Wlogical-op -Wduplicated-cond)
endif()
if(SS_WERROR)
  list(APPEND SS_WARNINGS -Werror)
endif()
add_compile_options("$<$<COMPILE_LANGUAGE:C>:${SS_WARNINGS}>")
