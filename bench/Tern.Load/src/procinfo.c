#include "procinfo.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int64_t process_rss_kib(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *file = fopen(path, "r");
    if (!file)
        return -1;
    char line[256];
    int64_t rss = -1;
    while (fgets(line, sizeof line, file)) {
        long long value;
        if (sscanf(line, "VmRSS: %lld kB", &value) == 1) {
            rss = value;
            break;
        }
    }
    fclose(file);
    return rss;
}

double process_cpu_seconds(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *file = fopen(path, "r");
    if (!file)
        return -1;
    char line[2048];
    char *read = fgets(line, sizeof line, file);
    fclose(file);
    if (!read)
        return -1;
    /* The command name (field 2) may hold spaces and parentheses: fields are counted from the last ')'. */
    char *after_name = strrchr(line, ')');
    if (!after_name)
        return -1;
    unsigned long long user = 0, system = 0;
    /* After ")": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15). */
    if (sscanf(after_name + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &user, &system) != 2)
        return -1;
    return (double)(user + system) / (double)sysconf(_SC_CLK_TCK);
}

double own_cpu_seconds(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + (double)usage.ru_stime.tv_sec +
           usage.ru_stime.tv_usec / 1e6;
}
