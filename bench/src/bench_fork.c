/* bench_fork.c -- pgagroal's per-connection path: the parent runs a default loop with a listener
 * io watcher and six signal watchers; per round it forks, and the child does ev_loop_fork(default),
 * ev_loop_new(EVFLAG_AUTO), an ev_signal(SIGQUIT) and an io watcher on a readable socket (callback:
 * ev_break ONE), one ev_run(loop, 0), ev_loop_destroy, _exit(0). The parent waits for the child.
 * Timed: fork -> waitpid, per round. With -f (footprint, not timed): the minor page faults of the
 * children per fork instead (getrusage(RUSAGE_CHILDREN) over the rounds of each run, median of
 * the runs): every page a child writes first costs it a copy-on-write or zero-fill fault, and
 * every code page it runs first a fault that maps it (fork copies no page table entries of
 * file mappings). Usage: bench_fork [-f] [-i ROUNDS] [-r RUNS] [-W WARMUPS] */
#include "common.h"
#include <signal.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/wait.h>

static void io_cb(EV_P_ ev_io *w, int revents) { (void)w; (void)revents; ev_break(EV_A_ EVBREAK_ONE); }
static void sig_cb(EV_P_ ev_signal *w, int revents) { (void)w; (void)revents; }

int main(int argc, char **argv)
{
  int rounds = 200, runs = 5, warm = 1, footprint = 0, c;
  while ((c = getopt(argc, argv, "fi:r:W:")) != -1)
    switch (c) {
    case 'f': footprint = 1; break;
    case 'i': rounds = atoi(optarg); break;
    case 'r': runs = atoi(optarg); break;
    case 'W': warm = atoi(optarg); break;
    default: fprintf(stderr, "usage: bench_fork [-f] [-i ROUNDS] [-r RUNS] [-W WARMUPS]\n"); return 2;
    }
  struct ev_loop *main_loop = ev_default_loop(0);
  print_header("fork", main_loop);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 || write(sv[1], "x", 1) != 1) {
    perror("socketpair");
    return 1;
  }
  ev_io listener;
  ev_io_init(&listener, io_cb, sv[1], EV_READ);
  ev_io_start(main_loop, &listener);
  static const int sigs[] = {SIGTERM, SIGINT, SIGALRM, SIGHUP, SIGTRAP, SIGABRT};
  ev_signal sw[6];
  for (int i = 0; i < 6; i++) {
    ev_signal_init(&sw[i], sig_cb, sigs[i]);
    ev_signal_start(main_loop, &sw[i]);
  }
  ev_run(main_loop, EVRUN_NOWAIT);
  double *t = calloc(runs, sizeof *t);
  for (int r = -warm; r < runs; r++) {
    struct rusage ru0, ru1;
    getrusage(RUSAGE_CHILDREN, &ru0);
    double t0 = now_s();
    for (int i = 0; i < rounds; i++) {
      pid_t pid = fork();
      if (pid == 0) {
        CG_BEGIN(); /* callgrind: the child's own instructions (valgrind follows the fork) */
        ev_loop_fork(main_loop);
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        if (!loop)
          _exit(3);
        ev_signal q;
        ev_signal_init(&q, sig_cb, SIGQUIT);
        ev_signal_start(loop, &q);
        ev_io client;
        ev_io_init(&client, io_cb, sv[0], EV_READ);
        ev_io_start(loop, &client);
        ev_run(loop, 0);
        ev_io_stop(loop, &client);
        ev_signal_stop(loop, &q);
        ev_loop_destroy(loop);
        CG_END("fork-child");
        _exit(0);
      }
      int st;
      if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench_fork: child failed (status 0x%x)\n", st);
        return 1;
      }
    }
    double t1 = now_s();
    getrusage(RUSAGE_CHILDREN, &ru1);
    if (r >= 0)
      t[r] = footprint ? (double)(ru1.ru_minflt - ru0.ru_minflt) / rounds : t1 - t0;
  }
  if (footprint)
    printf("R bench=fork metric=minflt_per_child value=%.2f\n", median(t, runs));
  else
    printf("R bench=fork metric=ns_per_fork value=%.2f\n", median(t, runs) * 1e9 / rounds);
  return 0;
}
