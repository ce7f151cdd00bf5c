/* wake: what waking a thread blocked on an eventfd costs the kernel, without Python.
 *
 * Two pthreads ping-pong N times over two eventfds: the main thread writes `ping` and blocks
 * reading `pong`; the echo thread, blocked reading `ping`, wakes, writes `pong` and blocks
 * again.  Each round trip is two wake-ups of a thread blocked in read(); the program prints
 * the mean time of one (half a round trip) in microseconds.  No GIL, no interpreter: the
 * time is the write, the scheduler's wake-up of the blocked reader (an IPI when it sleeps on
 * the other CPU) and the return from read().
 *
 * Usage: wake N (1 <= N <= 10^8).  Exit status 2 on bad usage, 3 if a system call fails.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static int ping, pong;
static long rounds;

static int hop(int to, int from)
{
    uint64_t v = 1;
    return write(to, &v, sizeof v) == sizeof v && read(from, &v, sizeof v) == sizeof v;
}

static void *echo(void *unused)
{
    uint64_t v;
    (void)unused;
    for (long i = 0; i < rounds; i++) {
        if (read(ping, &v, sizeof v) != sizeof v)
            exit(3);
        v = 1;
        if (write(pong, &v, sizeof v) != sizeof v)
            exit(3);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t thread;
    struct timespec t0, t1;

    rounds = argc == 2 ? atol(argv[1]) : 0;
    if (rounds < 1 || rounds > 100000000L) {
        fprintf(stderr, "usage: wake N (1..100000000)\n");
        return 2;
    }
    ping = eventfd(0, EFD_CLOEXEC);
    pong = eventfd(0, EFD_CLOEXEC);
    if (ping < 0 || pong < 0 || pthread_create(&thread, NULL, echo, NULL))
        return 3;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < rounds; i++)
        if (!hop(ping, pong))
            return 3;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(thread, NULL);
    double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
    printf("%.4f\n", ns / rounds / 2 / 1e3);
    return 0;
}
