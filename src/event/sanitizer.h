/* sanitizer.h - which sanitizers or valgrind this file is built for, and the
 * fiber annotations the coroutine switch makes for them. Every macro is a
 * no-op in a plain build, so annotating costs nothing there. */
#ifndef SS_EVENT_SANITIZER_H
#define SS_EVENT_SANITIZER_H

#include <stddef.h>

/* gcc defines __SANITIZE_ADDRESS__/__SANITIZE_THREAD__; clang answers
 * __has_feature() (clang's "AddressSanitizer" and "ThreadSanitizer" docs). */
#if defined(__SANITIZE_ADDRESS__)
#define SS_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define SS_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(SS_ASAN)
#define SS_ASAN 1
#endif
#if __has_feature(thread_sanitizer) && !defined(SS_TSAN)
#define SS_TSAN 1
#endif
#endif

#ifdef SS_ASAN
/* <sanitizer/common_interface_defs.h>: tell ASan which stack is about to run
 * and, once there, which one was left, so that its stack checks and fake
 * stacks (use-after-return) follow the coroutines. */
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
/* <sanitizer/asan_interface.h>: a reused stack must not keep the poisoned
 * redzones of the frames of the coroutine that used it before. */
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif

#ifdef SS_TSAN
/* <sanitizer/tsan_interface.h>: one TSan fiber per coroutine, switched to
 * immediately before the machine switch. */
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

/* valgrind's client requests (valgrind.h, "Client requests" in its manual):
 * without VALGRIND_STACK_REGISTER memcheck takes a switch of stack pointer
 * into a coroutine stack for a huge stack frame and warns. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define SS_VALGRIND 1
#endif
#endif
#ifdef SS_VALGRIND
#define SS_VG_STACK_REGISTER(lo, hi) VALGRIND_STACK_REGISTER((lo), (hi))
#define SS_VG_STACK_DEREGISTER(id)   VALGRIND_STACK_DEREGISTER(id)
#else
#define SS_VG_STACK_REGISTER(lo, hi) 0u
#define SS_VG_STACK_DEREGISTER(id)   ((void)(id))
#endif

#endif /* SS_EVENT_SANITIZER_H */
