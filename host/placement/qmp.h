/* SPDX-License-Identifier: MIT */
/*
 * qmp.h - just enough of QEMU's QMP to ask which threads run the vCPUs
 * (query-cpus-fast), for a QEMU started without debug-threads=on.
 *
 * The reply is the peer's word: it is parsed by a strict, bounded JSON
 * reader (no allocation, depth and size limits, a clear error for anything
 * else), and the thread ids it names are used only if they are threads of
 * the peer's own process (the caller checks).
 */
#ifndef IVNETD_QMP_H
#define IVNETD_QMP_H

#include <stddef.h>

#define IVNETD_QMP_LINE_MAX 65536
#define IVNETD_QMP_CPUS_MAX 1024

struct ivnetd_qmp_cpu {
	int index; /* cpu-index */
	int tid;   /* thread-id */
};

enum ivnetd_qmp_kind {
	IVNETD_QMP_GREETING,
	IVNETD_QMP_EVENT,
	IVNETD_QMP_RETURN,
	IVNETD_QMP_ERROR, /* err holds the error's class and description */
};

/*
 * Parse one reply (a JSON object, optional trailing CR/LF). For a return
 * value that is a list of CPUs and cpus != NULL, fills up to max of them
 * and sets *ncpus. Returns the kind, or -1 with a reason in err.
 */
int ivnetd_qmp_parse(const char *line, size_t len, struct ivnetd_qmp_cpu *cpus, int max, int *ncpus,
		     char *err, size_t errlen);

/* Connect to the QMP socket at path, negotiate, and run query-cpus-fast,
 * within timeout_ms in all. Returns the number of CPUs or -1 with a reason
 * (err starts with "unreachable" when nothing listens there). */
int ivnetd_qmp_query_cpus(const char *path, int timeout_ms, struct ivnetd_qmp_cpu *cpus, int max,
			  char *err, size_t errlen);

#endif /* IVNETD_QMP_H */
