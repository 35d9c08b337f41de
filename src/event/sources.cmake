# The event runtime: coroutines (one context switch per CPU architecture, or
# ucontext(3) as the portable fallback), the epoll poller, timers and the loop.
# Included OPTIONALLY by src/CMakeLists.txt, in its scope, before the library
# target exists: SS_EVENT_SOURCES (the runtime and the mode that uses it,
# src/mode_event.c) and SS_HAVE_EVENT for mode.c are set here.
option(SS_EVENT_UCONTEXT "Event mode: use makecontext/swapcontext instead of the assembly switch" OFF)

set(_ss_ev ${CMAKE_CURRENT_SOURCE_DIR}/event)
if(SS_EVENT_UCONTEXT)
  set(_ss_ev_ctx ${_ss_ev}/ctx_ucontext.c)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(_ss_ev_ctx ${_ss_ev}/ctx_x86_64.S)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(_ss_ev_ctx ${_ss_ev}/ctx_aarch64.S)
else()
  set(_ss_ev_ctx ${_ss_ev}/ctx_ucontext.c)
endif()
message(STATUS "socketserver event runtime: context switch in ${_ss_ev_ctx}")

list(APPEND SS_EVENT_SOURCES
  ${_ss_ev_ctx}
  ${_ss_ev}/stack.c
  ${_ss_ev}/coro.c
  ${_ss_ev}/guard.c
  ${_ss_ev}/poller.c
  ${_ss_ev}/poll_epoll.c
  ${_ss_ev}/timer.c
  ${_ss_ev}/loop.c
  ${_ss_ev}/offload.c
  ${CMAKE_CURRENT_SOURCE_DIR}/mode_event.c)
# io_uring (ss_config_t.poller, serve --poller) with liburing when it is
# there (Debian: liburing-dev); without it the loops use epoll and asking for
# io_uring fails with SS_EMODE ("built without io_uring"). Found without
# pkg-config, which a machine with only the toolchain lacks.
find_path(SS_URING_INCLUDE_DIR liburing.h)
find_library(SS_URING_LIBRARY uring)
if(SS_URING_INCLUDE_DIR AND SS_URING_LIBRARY)
  list(APPEND SS_EVENT_SOURCES ${_ss_ev}/poll_uring.c)
  add_compile_definitions(SS_HAVE_URING=1)
  set(SS_HAVE_URING ON)
  message(STATUS "socketserver event runtime: io_uring with ${SS_URING_LIBRARY}")
else()
  set(SS_HAVE_URING OFF)
  message(STATUS "socketserver event runtime: built without io_uring (no liburing found)")
endif()
# mode.c lists the event mode only when its runtime is built.
add_compile_definitions(SS_HAVE_EVENT=1)
