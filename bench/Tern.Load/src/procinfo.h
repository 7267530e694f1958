/* What /proc and getrusage tell about the server under test and about this process. */
#ifndef TERN_LOAD_PROCINFO_H
#define TERN_LOAD_PROCINFO_H

#include <stdint.h>

/* Resident set size of a process in KiB (VmRSS in /proc/<pid>/status), or -1 when it cannot be read. */
int64_t process_rss_kib(int pid);

/* User plus system CPU time a process has used, in seconds (/proc/<pid>/stat), or -1 when unreadable. */
double process_cpu_seconds(int pid);

/* User plus system CPU time of this process, all threads. */
double own_cpu_seconds(void);

#endif
