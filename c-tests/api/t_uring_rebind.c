/* evring-test: backends=128 mode=self timeout=60 */
/* evring-only: after ev_io_stop returns, close(fd) releases the file at once (issue 7 §2).
 * 1000 times, inside the accept callback: accept and close the client, ev_io_stop the
 * listener, close it, create a new listening socket, bind the SAME address (fails with
 * EADDRINUSE if anything -- e.g. an armed io_uring poll -- still holds the old socket),
 * listen, ev_io_set + ev_io_start; then a new client connects. 127.0.0.1 only. */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static struct sockaddr_in addr;
static int accepted, client = -1;

static int listener(int bind_any)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  socklen_t len = sizeof addr;
  CHECK(fd >= 0);
  CHECK(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
  if (bind_any) {
    /* A port below the kernel's ephemeral range (32768+ by default): while our listener is
     * closed between two rounds, another process's outgoing connection could otherwise get
     * its number as a local port and the re-bind would fail with EADDRINUSE for a reason
     * that has nothing to do with us (seen once in CI with this test's two lanes in
     * parallel). Tried from a pid-dependent start until one is free. */
    int tries;
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (tries = 0; tries < 200; tries++) {
      addr.sin_port = htons((unsigned short)(20000 + ((unsigned)getpid() * 131u + (unsigned)tries * 7919u) % 10000u));
      if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0) break;
      CHECK(errno == EADDRINUSE);
    }
    CHECK(tries < 200);
  } else if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    fprintf(stderr, "bind: %s (round %d)\n", strerror(errno), accepted);
    exit(1);
  }
  CHECK(listen(fd, 16) == 0);
  if (bind_any) CHECK(getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
  return fd;
}

static void connect_client(void)
{
  client = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(client >= 0);
  CHECK(connect(client, (struct sockaddr *)&addr, sizeof addr) == 0);
}

static void accept_cb(struct ev_loop *l, ev_io *w, int revents)
{
  int c = accept(w->fd, NULL, NULL);
  (void)revents;
  CHECK(c >= 0);
  close(c);
  close(client);
  client = -1;
  accepted++;
  ev_io_stop(l, w);
  close(w->fd);
  if (accepted == 1000) return;
  ev_io_set(w, listener(0), EV_READ);
  ev_io_start(l, w);
  connect_client();
}

int main(void)
{
  struct ev_loop *l;
  ev_io w;
  WATCHDOG(55);
  l = test_default_loop();
  if (!getenv("EVRING_URING_FAIL")) CHECK_EQ_INT(ev_backend(l), EVBACKEND_IOURING);
  ev_io_init(&w, accept_cb, listener(1), EV_READ);
  ev_io_start(l, &w);
  connect_client();
  ev_run(l, 0);
  CHECK_EQ_INT(accepted, 1000);
  TRACE("1000 stop/close/re-bind/start cycles inside the callback");
  return 0;
}
