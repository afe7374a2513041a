/* evring-test: timeout=10 */
#include "test.h"
static void cb(struct ev_loop *l, ev_timer *w, int r){ (void)l; TRACE("timer fired revents=0x%x active=%d", r, ev_is_active(w)); }
int main(void){ WATCHDOG(5); struct ev_loop *loop = test_default_loop(); ev_timer t; ev_timer_init(&t, cb, 0.001, 0.); ev_timer_start(loop,&t);
 TRACE("run -> %d", ev_run(loop, 0)); return 0; }
