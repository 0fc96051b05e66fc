// SPDX-License-Identifier: MIT
/*
 * test_guard - the broker's guard of an unsealed region (host/ivnetd/guard.c)
 * in-process, where the integration test cannot aim: an access right after
 * a peer's truncation, before any size check saw it. The broker must not
 * die of the SIGBUS, and the next check must give back a shared mapping of
 * the whole region with the header the broker wrote.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ivnetd.h"
#include "testlib.h"

static void config(struct ivnetd_config *cfg, const char *dir)
{
	ivnetd_config_defaults(cfg);
	cfg->foreground = 1;
	snprintf(cfg->log_path, sizeof(cfg->log_path), "%s/log", dir);
	snprintf(cfg->control_path, sizeof(cfg->control_path), "%s/ctl", dir);
	snprintf(cfg->seg[0].socket_path, sizeof(cfg->seg[0].socket_path), "%s/sock", dir);
	snprintf(cfg->seg[0].shm_path, sizeof(cfg->seg[0].shm_path), "/ivnet-guard-%d",
		 (int)getpid());
	cfg->seg[0].backing = IVNET_BACKING_SHM;
	cfg->seg[0].unsealed = 1;
	cfg->seg[0].size = 1 << 20;
}

static int logged(const char *path, const char *what)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	CHECK(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strstr(buf, what) != NULL;
}

/* A fault outside every region is not the guard's: it still kills (the
 * default disposition, or the sanitizer's report and exit). */
static void foreign_fault_kills(void)
{
	int fd = memfd_create("not-a-region", MFD_CLOEXEC), status;
	volatile uint8_t *m;
	pid_t pid;

	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, 8192), 0);
	m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	CHECK_EQ(ftruncate(fd, 0), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		/* a sanitizer's report of the expected fault is not news */
		if (null >= 0)
			dup2(null, STDERR_FILENO);
		m[4096] = 1;
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
	munmap((void *)m, 8192);
	close(fd);
}

int main(void)
{
	static struct ivnetd d;
	struct ivnetd_config cfg;
	char dir[] = "/tmp/ivnet-guard-XXXXXX";
	struct ivnetd_segment *s;
	struct ivnet_layout l;
	volatile uint8_t *p;
	const char *why;
	struct stat st;
	uint64_t size;
	uint8_t *view;

	CHECK(mkdtemp(dir));
	config(&cfg, dir);
	CHECK_EQ(ivnetd_start(&d, &cfg), 0);
	s = &d.seg[0];
	size = s->region.size;
	p = s->region.base;

	/* a peer truncates; the broker touches the lost range at once */
	CHECK_EQ(ftruncate(s->region.fd, 0), 0);
	p[size - 1] = 0x5a;
	CHECK(s->faulted);
	CHECK_EQ(p[size - 1], 0x5a); /* the access completed, on zero pages */

	ivnetd_guard(s);
	CHECK(!s->faulted);
	CHECK_EQ(fstat(s->region.fd, &st), 0);
	CHECK_EQ((uint64_t)st.st_size, size);
	view = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->region.fd, 0);
	CHECK(view != MAP_FAILED);
	CHECK_EQ(ivnet_layout_from_header((const void *)view, size, 0, &l, &why), 0);
	p[size - 1] = 0xa5; /* the broker's mapping is the shared one again */
	CHECK_EQ(view[size - 1], 0xa5);
	munmap(view, size);
	CHECK(logged(cfg.log_path, "tamper segment=ivnet region truncated to 0 bytes: restored"));

	/* truncated while no access faulted: the check alone restores it */
	CHECK_EQ(ftruncate(s->region.fd, 4096), 0);
	ivnetd_guard(s);
	CHECK(!s->faulted);
	CHECK_EQ(fstat(s->region.fd, &st), 0);
	CHECK_EQ((uint64_t)st.st_size, size);
	CHECK_EQ(p[size - 1], 0); /* the lost page came back as zeros */
	CHECK(logged(cfg.log_path, "truncated to 4096 bytes: restored"));

	foreign_fault_kills();
	ivnetd_stop(&d);
	CHECK_EQ(unlink(cfg.log_path), 0);
	CHECK_EQ(rmdir(dir), 0);
	printf("guard: ok\n");
	return 0;
}
