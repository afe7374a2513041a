/* evring-test: mode=self timeout=20 */
/* evring-only (mode=self): ev_io_stop + close() of a watched fd, done in the callback of
 * ANOTHER watcher (so the stopped watcher is still armed in the kernel), really closes the
 * file before the next loop iteration, on every backend. Part 3 (tracker issue 7 §2) does the
 * listener's own stop, close, bind, listen, start 1,000 times from its accept callback.
 *
 * pgagroal's SIGHUP reload (pgagroal.md §1.3: reload_cb, a signal callback, stops every
 * listener watcher, closes the sockets and binds the same addresses again) and its pooled
 * server connections (§1.4 item 4: "Stop must really cancel") need this. epoll and poll give
 * it for free. With io_uring an armed IORING_OP_POLL_ADD holds a reference to the file, so a
 * stop that is only applied at the next iteration leaves the socket alive meanwhile: measured
 * with Debian's libev 4.33 on LIBEV_FLAGS=128, the peer of the closed socket sees EAGAIN instead
 * of EOF inside the callback (EOF one iteration later), and pgagroal's reload fails: bind() of
 * the same address returns EADDRINUSE. That is why t_io.c pins its reload scenario to epoll and
 * poll. This test holds evring to what pgagroal needs on the backend chosen by LIBEV_FLAGS
 * (stricter than libev on io_uring: the cancel must not wait for the next iteration, e.g. a
 * synchronous cancel when ev_io_stop runs in the loop's own process). */
#include "test.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

static struct sockaddr_in addr;
static ev_io lw;
static ev_signal hup;
static int accepts, client = -1, bind_failures;

static int listen_on(int pick_port)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  socklen_t len = sizeof addr;
  CHECK(fd >= 0);
  CHECK(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
  if (pick_port) {
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    fprintf(stderr, "bind: %s\n", strerror(errno));
    close(fd);
    return -1;
  }
  CHECK(listen(fd, 8) == 0);
  if (pick_port) CHECK(getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
  return fd;
}

static void connect_client(void)
{
  client = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(client >= 0);
  CHECK(connect(client, (struct sockaddr *)&addr, sizeof addr) == 0);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
  int c;
  CHECK(revents == EV_READ);
  c = accept(w->fd, NULL, NULL);
  CHECK(c >= 0);
  close(c);
  close(client);
  client = -1;
  if (++accepts == 20) {
    ev_break(loop, EVBREAK_ALL);
    return;
  }
  raise(SIGHUP);    /* the reload runs in the signal callback, one iteration later */
}

/* pgagroal's reload_cb: stop, close, bind the same address again, start */
static void reload_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
  int fd;
  (void)w; (void)revents;
  ev_io_stop(loop, &lw);
  close(lw.fd);
  fd = listen_on(0);
  if (fd < 0) {
    bind_failures++;
    ev_break(loop, EVBREAK_ALL);
    return;
  }
  ev_io_set(&lw, fd, EV_READ);
  ev_io_start(loop, &lw);
  connect_client();
}

/* 3. 1,000 rebinds: accept the client, then stop, close, bind the same address again,
 * listen, start, and connect the next client. Even rounds do it in the listener's own
 * callback; odd rounds one iteration later in a timer callback, while the listener is armed
 * in the kernel again (the hard case for io_uring polls). A file that stayed open after
 * close() makes bind() fail with EADDRINUSE (nothing else listens there). */
#define REBINDS 1000
static int rebinds, rebind_bind_failures;
static ev_io rw;
static ev_timer rebind_later;

static void rebind(struct ev_loop *loop)
{
  int fd;
  ev_io_stop(loop, &rw);
  close(rw.fd);
  fd = listen_on(0);
  if (fd < 0) {
    rebind_bind_failures++;
    ev_break(loop, EVBREAK_ALL);
    return;
  }
  ev_io_set(&rw, fd, EV_READ);
  ev_io_start(loop, &rw);
  connect_client();
}

static void rebind_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  (void)w; (void)revents;
  rebind(loop);
}

static void rebind_cb(struct ev_loop *loop, ev_io *w, int revents)
{
  int c;
  CHECK(revents == EV_READ);
  c = accept(w->fd, NULL, NULL);
  CHECK(c >= 0);
  close(c);
  close(client);
  client = -1;
  if (++rebinds == REBINDS) {
    ev_break(loop, EVBREAK_ALL);
    return;
  }
  if (rebinds % 2 == 0) {
    rebind(loop);
  } else {
    ev_timer_set(&rebind_later, 0.001, 0.);
    ev_timer_start(loop, &rebind_later);
  }
}

static int guard_fired;
static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  (void)w; (void)revents;
  guard_fired = 1;
  ev_break(loop, EVBREAK_ALL);
}

/* a socketpair end watched for READ (armed, nothing to read); a timer callback stops the watcher
 * and closes the fd: the other end must see EOF at once */
static int sp[2], close_done;
static ev_io spw;
static void never_cb(struct ev_loop *loop, ev_io *w, int revents)
{
  (void)loop; (void)w;
  fprintf(stderr, "unexpected io callback revents=0x%x\n", (unsigned)revents);
  exit(1);
}

static void closer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  char c;
  ssize_t n;
  (void)w; (void)revents;
  ev_io_stop(loop, &spw);
  close(sp[0]);
  n = read(sp[1], &c, 1);
  TRACE("  stop+close from a timer callback: peer read returned %d (%s)", (int)n,
        n == 0 ? "EOF" : n < 0 && errno == EAGAIN ? "EAGAIN: the socket is still open" : "?");
  CHECK_EQ_INT(n, 0);
  close_done = 1;
}

int main(void)
{
  struct ev_loop *loop;
  ev_timer guard, closer;
  int fl;

  WATCHDOG(15);
  loop = test_default_loop();
  TRACE("backend 0x%x", ev_backend(loop));
  ev_timer_init(&guard, guard_cb, 5., 0.);

  /* 1. socketpair */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  fl = fcntl(sp[1], F_GETFL);
  CHECK(fcntl(sp[1], F_SETFL, fl | O_NONBLOCK) == 0);
  ev_io_init(&spw, never_cb, sp[0], EV_READ);
  ev_io_start(loop, &spw);
  ev_run(loop, EVRUN_NOWAIT);          /* armed in the kernel */
  ev_timer_init(&closer, closer_cb, 0.02, 0.);
  ev_timer_start(loop, &closer);
  ev_timer_start(loop, &guard);
  while (!close_done && !guard_fired) ev_run(loop, EVRUN_ONCE);
  ev_timer_stop(loop, &guard);
  CHECK(close_done);
  close(sp[1]);

  /* 2. pgagroal's reload, 20 rounds */
  ev_io_init(&lw, accept_cb, listen_on(1), EV_READ);
  ev_io_start(loop, &lw);
  ev_signal_init(&hup, reload_cb, SIGHUP);
  ev_signal_start(loop, &hup);
  connect_client();
  ev_timer_start(loop, &guard);
  ev_run(loop, 0);
  ev_timer_stop(loop, &guard);
  TRACE("  reload from a SIGHUP callback: accepts=%d bind failures=%d guard=%d", accepts,
        bind_failures, guard_fired);
  CHECK_EQ_INT(bind_failures, 0);
  CHECK_EQ_INT(accepts, 20);
  ev_io_stop(loop, &lw);
  ev_signal_stop(loop, &hup);
  close(lw.fd);

  /* 3. 1,000 rebinds from the listener's own callback */
  ev_io_init(&rw, rebind_cb, listen_on(0), EV_READ);
  ev_io_start(loop, &rw);
  ev_timer_init(&rebind_later, rebind_timer_cb, 0.001, 0.);
  connect_client();
  ev_timer_set(&guard, 10., 0.);
  ev_timer_start(loop, &guard);
  ev_run(loop, 0);
  ev_timer_stop(loop, &guard);
  TRACE("  %d x stop+close+bind+listen+start from the accept and a timer callback: accepts=%d bind failures=%d guard=%d",
        REBINDS, rebinds, rebind_bind_failures, guard_fired);
  CHECK_EQ_INT(rebind_bind_failures, 0);
  CHECK_EQ_INT(rebinds, REBINDS);
  ev_io_stop(loop, &rw);
  close(rw.fd);
  TRACE("done");
  return 0;
}
