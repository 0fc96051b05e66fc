/* SPDX-License-Identifier: MIT */
/*
 * ivnet_compat.h - the few primitives the shared-memory code needs, spelled
 * once for the Linux kernel and once for userspace, so that every header
 * of abi/ compiles unchanged in both.
 *
 * Shared memory is read and written by other processes and other VMs, so
 * every access to a field another party may write goes through one of the
 * ivnet_load_* / ivnet_store_* macros: the compiler may neither tear, fuse nor
 * re-read it.
 */
#ifndef IVNET_COMPAT_H
#define IVNET_COMPAT_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/stddef.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/compiler.h>
#include <asm/barrier.h>
#include <linux/prefetch.h>

#define ivnet_load_relaxed(p) READ_ONCE(*(p))
#define ivnet_store_relaxed(p, v) WRITE_ONCE(*(p), (v))
/* The other party is another VM: the virt_ barriers stay real barriers
 * even in a guest kernel built without SMP (as in virtio). */
#define ivnet_load_acquire(p) virt_load_acquire(p)
#define ivnet_store_release(p, v) virt_store_release((p), (v))
#define ivnet_mb() virt_mb()
/* loads before it are ordered before loads after it (a seqlock reader) */
#define ivnet_fence_acquire() virt_rmb()
/* stores before it are ordered before stores after it (a seqlock writer) */
#define ivnet_fence_release() virt_wmb()
#define ivnet_likely(x) likely(x)
#define ivnet_unlikely(x) unlikely(x)
#define ivnet_prefetch(p) prefetch(p)

#else /* userspace */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ivnet_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ivnet_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define ivnet_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define ivnet_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ivnet_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define ivnet_fence_acquire() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define ivnet_fence_release() __atomic_thread_fence(__ATOMIC_RELEASE)
#define ivnet_likely(x) __builtin_expect(!!(x), 1)
#define ivnet_unlikely(x) __builtin_expect(!!(x), 0)
#define ivnet_prefetch(p) __builtin_prefetch(p)
#endif

#endif /* IVNET_COMPAT_H */
