//! The kqueue logic against a fake kernel (runs on Linux).
//!
//! `Fake` models a kqueue the way FreeBSD's `kevent()` behaves: changes are applied in order
//! before the wait; a failing change becomes an `EV_ERROR` entry (a copy of the change with
//! `data` = errno) if the result array has room, else the call fails with that errno; when
//! there are error entries the call returns them without waiting; filters are level-triggered
//! and carry the `udata` of their last `EV_ADD`; closing an fd drops its filters; a forked
//! child has no queue. `Core` plays the loop core's part (fd_reify, fd_kill, fork re-arm).

use super::*;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

const R: u8 = EV_READ as u8;
const W: u8 = EV_WRITE as u8;
const FFLAGS: u32 = 0x2;

#[derive(Clone, Debug, PartialEq)]
struct Call {
    kq: c_int,
    changes: Vec<KEvent>,
    nevents: usize,
    timeout: Option<Duration>,
}

#[derive(Default)]
struct Fake {
    pid: i32,
    next_fd: c_int,
    live_kqs: BTreeSet<c_int>,
    /// (queue, ident, filter) → udata.
    knotes: BTreeMap<(c_int, u64, Filter), u64>,
    /// Open fds (the others fail with EBADF; `fd_valid` reads this).
    open: BTreeSet<u64>,
    ready: BTreeSet<(u64, Filter)>,
    eof: BTreeSet<(u64, Filter)>,
    /// errno for `EV_ADD` of this filter (an fd the kernel cannot watch).
    refuse: BTreeMap<(u64, Filter), i32>,
    /// Entries returned first by the next call that has no errors.
    inject: Vec<KEvent>,
    /// errno for the next call, after its changes are applied (EINTR semantics).
    fail_next: Option<i32>,
    kqueue_failures: usize,
    calls: Vec<Call>,
    closed: Rc<RefCell<Vec<c_int>>>,
    syserrs: Vec<String>,
}

fn err(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

impl Fake {
    fn open_fd(&mut self, fd: u64) {
        self.open.insert(fd);
    }

    /// The application closes `fd`: the kernel drops its filters from every queue.
    fn close_fd(&mut self, fd: u64) {
        self.open.remove(&fd);
        self.knotes.retain(|&(_, ident, _), _| ident != fd);
        self.ready.retain(|&(ident, _)| ident != fd);
    }

    /// We are now the child of a fork: a new pid and no kqueue.
    fn fork_child(&mut self) {
        self.pid += 1;
        self.live_kqs.clear();
        self.knotes.clear();
    }

    fn udata(&self, kq: c_int, fd: u64, f: Filter) -> Option<u64> {
        self.knotes.get(&(kq, fd, f)).copied()
    }

    fn filters(&self, kq: c_int, fd: u64) -> Vec<Filter> {
        self.knotes
            .keys()
            .filter(|k| k.0 == kq && k.1 == fd)
            .map(|k| k.2)
            .collect()
    }

    fn last(&self) -> &Call {
        self.calls.last().expect("no kevent call")
    }
}

impl Kernel for Fake {
    const ADD_FFLAGS: u32 = FFLAGS;
    /// macOS's and FreeBSD 11's `struct kevent` on 64-bit systems.
    const EVENT_SIZE: usize = 32;

    fn kqueue(&mut self) -> io::Result<c_int> {
        if self.kqueue_failures > 0 {
            self.kqueue_failures -= 1;
            return Err(err(libc::EMFILE));
        }
        let fd = self.next_fd;
        self.next_fd += 1;
        self.live_kqs.insert(fd);
        Ok(fd)
    }

    fn kevent(
        &mut self,
        kq: c_int,
        changes: &[KEvent],
        events: &mut [KEvent],
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        self.calls.push(Call {
            kq,
            changes: changes.to_vec(),
            nevents: events.len(),
            timeout,
        });
        if !self.live_kqs.contains(&kq) {
            return Err(err(libc::EBADF));
        }
        let mut n = 0;
        for ch in changes {
            let key = (kq, ch.ident, ch.filter);
            let e = if !self.open.contains(&ch.ident) {
                libc::EBADF
            } else if ch.flags & kflags::DELETE != 0 {
                if self.knotes.remove(&key).is_some() {
                    0
                } else {
                    libc::ENOENT
                }
            } else if ch.flags & kflags::ADD != 0 {
                if let Some(&e) = self.refuse.get(&(ch.ident, ch.filter)) {
                    e
                } else {
                    self.knotes.insert(key, ch.udata);
                    0
                }
            } else {
                libc::EINVAL
            };
            if e != 0 {
                if n == events.len() {
                    return Err(err(e));
                }
                events[n] = KEvent {
                    flags: kflags::ERROR,
                    data: e as i64,
                    ..*ch
                };
                n += 1;
            }
        }
        if let Some(e) = self.fail_next.take() {
            return Err(err(e));
        }
        if n > 0 {
            return Ok(n);
        }
        for ev in self.inject.drain(..) {
            if n < events.len() {
                events[n] = ev;
                n += 1;
            }
        }
        for (&(q, ident, filter), &udata) in &self.knotes {
            if q == kq && self.ready.contains(&(ident, filter)) && n < events.len() {
                let flags = if self.eof.contains(&(ident, filter)) {
                    kflags::EOF
                } else {
                    0
                };
                events[n] = KEvent {
                    ident,
                    filter,
                    flags,
                    fflags: 0,
                    data: 1,
                    udata,
                };
                n += 1;
            }
        }
        Ok(n)
    }

    fn close(&mut self, fd: c_int) {
        self.closed.borrow_mut().push(fd);
        self.live_kqs.remove(&fd);
        self.knotes.retain(|k, _| k.0 != fd);
    }

    fn getpid(&mut self) -> i32 {
        self.pid
    }

    fn fd_valid(&mut self, fd: c_int) -> bool {
        self.open.contains(&(fd as u64))
    }

    fn syserr(&mut self, msg: &CStr) {
        self.syserrs.push(msg.to_str().unwrap().to_owned());
    }
}

fn fake() -> Fake {
    Fake {
        pid: 1000,
        next_fd: 100,
        ..Fake::default()
    }
}

/// The loop core's side of the interface.
struct Core {
    kq: Kqueue<Fake>,
    anfds: FdTable,
    out: PollOut,
}

impl Core {
    fn new() -> Core {
        Core::with(fake())
    }

    fn with(f: Fake) -> Core {
        Core {
            kq: Kqueue::with_kernel(f).unwrap(),
            anfds: FdTable::with_len(512),
            out: PollOut::default(),
        }
    }

    fn k(&mut self) -> &mut Fake {
        &mut self.kq.kernel
    }

    /// fd_reify for one fd whose watchers now want `mask`.
    fn set(&mut self, fd: i32, mask: u8) {
        let a = &mut self.anfds[fd as usize];
        let o = a.events;
        a.events = mask;
        if o != mask {
            self.kq.modify(&mut self.anfds, fd, o, mask, &mut self.out);
        }
    }

    /// fd_reify after `ev_io_set` (EV__IOFDSET): modify even if the mask is unchanged.
    fn reset(&mut self, fd: i32, mask: u8) {
        let o = self.anfds[fd as usize].events;
        self.anfds[fd as usize].events = mask;
        self.kq.modify(&mut self.anfds, fd, o, mask, &mut self.out);
    }

    fn poll(&mut self, t: f64) -> Vec<(i32, i32)> {
        self.out = PollOut::default();
        self.kq
            .poll(Fds::new(&mut self.anfds), t, &mut self.out, &Hooks::NONE);
        // fd_kill: the fd's watchers are stopped, which is a lazy change to an empty mask.
        for fd in self.out.kill.clone() {
            self.set(fd, 0);
        }
        self.out.ready.clone()
    }

    /// loop_fork: new kernel state, then fd_rearm_all and fd_reify.
    fn rearm_all(&mut self) {
        assert!(self.kq.fork());
        for fd in 0..self.anfds.end() {
            let ev = self.anfds[fd].events;
            if ev != 0 {
                self.anfds[fd].events = 0;
                self.anfds[fd].emask = 0;
                self.set(fd as i32, ev);
            }
        }
    }

    fn fd(&self) -> c_int {
        self.kq.fd()
    }
}

fn add(fd: u64, filter: Filter, gen: u64) -> KEvent {
    KEvent {
        ident: fd,
        filter,
        flags: kflags::ADD | kflags::ENABLE,
        fflags: FFLAGS,
        data: 0,
        udata: gen,
    }
}

fn del(fd: u64, filter: Filter, gen: u64) -> KEvent {
    KEvent {
        ident: fd,
        filter,
        flags: kflags::DELETE,
        fflags: 0,
        data: 0,
        udata: gen,
    }
}

fn ev(fd: u64, filter: Filter, flags: u16, data: i64, udata: u64) -> KEvent {
    KEvent {
        ident: fd,
        filter,
        flags,
        fflags: 0,
        data,
        udata,
    }
}

use Filter::{Read, Write};

#[test]
fn changes_are_batched_into_the_waiting_call() {
    let mut c = Core::new();
    for fd in [5, 6, 7] {
        c.k().open_fd(fd);
    }
    c.set(5, R);
    c.set(6, W);
    c.set(7, R | W);
    assert!(c.k().calls.is_empty(), "modify must not call the kernel");
    assert!(c.poll(1.5).is_empty());
    let kq = c.fd();
    assert_eq!(c.k().calls.len(), 1);
    let call = c.k().last().clone();
    assert_eq!(call.kq, kq);
    assert_eq!(call.timeout, Some(Duration::from_millis(1500)));
    assert_eq!(
        call.changes,
        vec![
            add(5, Read, 1),
            add(6, Write, 1),
            add(7, Read, 1),
            add(7, Write, 1)
        ]
    );
    assert_eq!(c.k().filters(kq, 7), vec![Read, Write]);
    assert!(c.kq.changes.is_empty());
    // Nothing changed: the next call carries no changes.
    c.poll(0.0);
    assert!(c.k().last().changes.is_empty());
}

#[test]
fn modify_widens_and_narrows_with_new_generations() {
    let mut c = Core::new();
    c.k().open_fd(5);
    let kq = c.fd();
    c.set(5, R);
    c.poll(0.0);
    c.set(5, R | W);
    c.poll(0.0);
    assert_eq!(
        c.k().last().changes,
        vec![add(5, Read, 2), add(5, Write, 2)]
    );
    c.set(5, W);
    c.poll(0.0);
    // Narrowing to a non-empty mask deletes at once (batched), and re-adds what is wanted.
    assert_eq!(
        c.k().last().changes,
        vec![del(5, Read, 3), add(5, Write, 3)]
    );
    assert_eq!(c.k().filters(kq, 5), vec![Write]);
    assert_eq!(c.k().udata(kq, 5, Write), Some(3));
    assert_eq!(c.anfds[5].emask, W);
    c.set(5, R | W);
    c.set(5, R);
    c.poll(0.0);
    assert_eq!(
        c.k().last().changes,
        vec![
            add(5, Read, 4),
            add(5, Write, 4),
            del(5, Write, 5),
            add(5, Read, 5)
        ]
    );
    assert_eq!(c.k().filters(kq, 5), vec![Read]);
    assert!(c.out.kill.is_empty() && !c.out.rebuild);
}

#[test]
fn empty_mask_is_lazy_and_unwanted_events_delete_the_filter() {
    let mut c = Core::new();
    c.k().open_fd(5);
    let kq = c.fd();
    c.set(5, R | W);
    c.poll(0.0);
    c.set(5, 0);
    c.poll(0.0);
    assert!(
        c.k().last().changes.is_empty(),
        "no EV_DELETE for an empty mask"
    );
    assert_eq!(c.k().filters(kq, 5), vec![Read, Write]);
    c.k().ready.extend([(5, Read), (5, Write)]);
    assert!(
        c.poll(0.0).is_empty(),
        "events no watcher wants are not delivered"
    );
    assert!(!c.out.rebuild);
    assert_eq!(c.kq.changes, vec![del(5, Read, 1), del(5, Write, 1)]);
    assert_eq!(c.anfds[5].emask, 0);
    assert!(c.poll(0.0).is_empty());
    assert_eq!(
        c.k().calls[3].changes,
        vec![del(5, Read, 1), del(5, Write, 1)]
    );
    assert!(c.k().filters(kq, 5).is_empty());
    // Wanted again: a plain add, nothing left to delete.
    c.set(5, R);
    assert_eq!(c.poll(0.0), vec![(5, EV_READ)]);
    assert_eq!(c.k().last().changes, vec![add(5, Read, 2)]);
    assert_eq!(c.k().filters(kq, 5), vec![Read]);
}

#[test]
fn stop_close_reopen_with_the_same_filter_sends_no_delete() {
    let mut c = Core::new();
    c.k().open_fd(5);
    c.set(5, R);
    c.poll(0.0);
    c.set(5, 0);
    c.k().close_fd(5);
    c.k().open_fd(5);
    c.set(5, R);
    c.k().ready.insert((5, Read));
    assert_eq!(c.poll(0.0), vec![(5, EV_READ)]);
    assert_eq!(c.k().last().changes, vec![add(5, Read, 2)]);
    assert!(!c.out.rebuild && c.out.kill.is_empty());
}

#[test]
fn reopen_with_another_filter_deletes_the_leftover_and_ignores_enoent() {
    let mut c = Core::new();
    c.k().open_fd(5);
    c.set(5, R);
    c.poll(0.0);
    c.set(5, 0);
    c.k().close_fd(5);
    c.k().open_fd(5);
    c.set(5, W);
    c.k().ready.insert((5, Write));
    // FreeBSD returns the error entry without waiting; it is harmless.
    assert!(c.poll(1.0).is_empty());
    assert_eq!(
        c.k().last().changes,
        vec![del(5, Read, 2), add(5, Write, 2)]
    );
    assert!(c.out.kill.is_empty() && !c.out.rebuild);
    assert!(c.kq.changes.is_empty(), "nothing to resubmit");
    assert_eq!(c.anfds[5].emask, W);
    assert_eq!(c.poll(1.0), vec![(5, EV_WRITE)]);
}

#[test]
fn forced_reregistration_readds_with_a_new_generation() {
    let mut c = Core::new();
    c.k().open_fd(5);
    let kq = c.fd();
    c.set(5, R);
    c.poll(0.0);
    c.reset(5, R);
    c.poll(0.0);
    assert_eq!(c.k().last().changes, vec![add(5, Read, 2)]);
    assert_eq!(c.k().udata(kq, 5, Read), Some(2));
}

#[test]
fn timeout_conversion() {
    assert_eq!(wait_timeout(0.0), Some(Duration::ZERO));
    assert_eq!(wait_timeout(-3.0), Some(Duration::ZERO));
    assert_eq!(wait_timeout(f64::NAN), Some(Duration::ZERO));
    assert_eq!(wait_timeout(1e-9), Some(Duration::from_nanos(1)));
    assert_eq!(
        wait_timeout(2.5e-9),
        Some(Duration::from_nanos(3)),
        "rounded up"
    );
    assert_eq!(wait_timeout(1.5), Some(Duration::from_millis(1500)));
    assert_eq!(wait_timeout(59.743), Some(Duration::new(59, 743_000_000)));
    assert_eq!(wait_timeout(0.3), Some(Duration::from_millis(300)));
    assert_eq!(wait_timeout(1.1), Some(Duration::from_millis(1100)));
    assert_eq!(
        wait_timeout(0.999_999_999_9),
        Some(Duration::from_secs(1)),
        "carried over"
    );
    assert_eq!(wait_timeout(f64::INFINITY), None);
    assert_eq!(wait_timeout(1e12), None);
    let mut c = Core::new();
    c.poll(0.25);
    assert_eq!(c.k().last().timeout, Some(Duration::from_millis(250)));
    c.poll(0.0);
    assert_eq!(c.k().last().timeout, Some(Duration::ZERO));
    c.poll(f64::INFINITY);
    assert_eq!(c.k().last().timeout, None);
    assert_eq!(c.kq.mintime(), 1e-9);
}

#[test]
fn readiness_maps_each_filter_to_its_event() {
    let mut c = Core::new();
    for fd in [5, 6, 7] {
        c.k().open_fd(fd);
    }
    c.set(5, R);
    c.set(6, W);
    c.set(7, R | W);
    c.poll(0.0);
    c.k()
        .ready
        .extend([(5, Read), (6, Write), (7, Read), (7, Write)]);
    // EV_EOF does not widen the event (libev maps by filter only): a read at EOF returns 0,
    // a write to a closed peer fails, and each filter reports on its own.
    c.k().eof.extend([(5, Read), (6, Write)]);
    // A filter we never register is ignored (libev: fd_event with no events).
    c.k().inject.push(ev(7, Filter::Other(-4), 0, 0, 1));
    let mut got = c.poll(0.0);
    got.sort();
    assert_eq!(
        got,
        vec![(5, EV_READ), (6, EV_WRITE), (7, EV_READ), (7, EV_WRITE)]
    );
    assert!(!c.out.rebuild);
}

#[test]
fn unpollable_fds_are_killed_once() {
    for errno in [
        libc::EPERM,
        libc::ENODEV,
        libc::EINVAL,
        libc::ENXIO,
        libc::EOPNOTSUPP,
    ] {
        let mut c = Core::new();
        c.k().open_fd(5);
        c.k().open_fd(6);
        c.k().refuse.insert((5, Read), errno);
        c.k().refuse.insert((5, Write), errno);
        c.set(5, R | W);
        c.set(6, R);
        c.k().ready.insert((6, Read));
        assert!(c.poll(0.0).is_empty());
        assert_eq!(c.out.kill, vec![5], "errno {errno}");
        assert_eq!(c.anfds[5].emask, 0);
        // The other fd is unaffected; the killed one sends nothing more.
        assert_eq!(c.poll(0.0), vec![(6, EV_READ)]);
        assert!(c.k().last().changes.is_empty());
    }
}

#[test]
fn ebadf_kills_closed_fds_and_readds_reopened_ones() {
    // Closed: both filters fail, the watchers are stopped once.
    let mut c = Core::new();
    c.set(5, R | W);
    assert!(c.poll(0.0).is_empty());
    assert_eq!(c.out.kill, vec![5]);
    assert!(c.k().syserrs.is_empty());
    // Closed after registration, with a narrowing delete in flight.
    let mut c = Core::new();
    c.k().open_fd(5);
    c.set(5, R | W);
    c.poll(0.0);
    c.k().close_fd(5);
    c.set(5, R);
    c.poll(0.0);
    assert_eq!(c.out.kill, vec![5]);
    // EBADF but the fd is valid again when checked (reopened meanwhile): register again.
    let mut c = Core::new();
    c.k().open_fd(5);
    c.k().refuse.insert((5, Read), libc::EBADF);
    c.set(5, R);
    c.poll(0.0);
    assert!(c.out.kill.is_empty());
    assert_eq!(c.kq.changes, vec![add(5, Read, 1)]);
    assert_eq!(c.anfds[5].emask, R);
    c.k().refuse.clear();
    c.poll(0.0);
    let kq = c.fd();
    assert_eq!(c.k().filters(kq, 5), vec![Read]);
}

#[test]
fn enoent_on_a_wanted_filter_resubmits() {
    let mut c = Core::new();
    c.k().open_fd(5);
    c.k().refuse.insert((5, Write), libc::ENOENT);
    c.set(5, R | W);
    c.poll(0.0);
    assert!(c.out.kill.is_empty());
    // Only the failed filter goes again (the read filter's add succeeded).
    assert_eq!(c.kq.changes, vec![add(5, Write, 1)]);
    assert_eq!(c.anfds[5].emask, R | W);
}

#[test]
fn errors_that_do_not_concern_current_watchers_are_ignored() {
    let mut c = Core::new();
    c.k().open_fd(5);
    c.k().open_fd(6);
    // The fd lost its watchers before the change went out.
    c.k().refuse.insert((5, Read), libc::EPERM);
    c.set(5, R);
    c.set(5, 0);
    c.poll(0.0);
    assert!(c.out.kill.is_empty() && c.kq.changes.is_empty());
    // An answer to a superseded change (older generation), a receipt (data 0), an fd out of
    // range, and an odd failure of a delete of an unwanted filter.
    c.set(6, R);
    c.poll(0.0);
    c.k().inject.extend([
        ev(6, Read, kflags::ERROR, libc::EPERM as i64, 0),
        ev(6, Read, kflags::ERROR, 0, 1),
        ev(100_000, Read, kflags::ERROR, libc::EBADF as i64, 1),
        ev(6, Write, kflags::ERROR, libc::EINVAL as i64, 1),
    ]);
    c.k().ready.insert((6, Read));
    assert_eq!(c.poll(0.0), vec![(6, EV_READ)]);
    assert!(c.out.kill.is_empty() && !c.out.rebuild && c.kq.changes.is_empty());
    assert_eq!(c.anfds[6].emask, R);
}

#[test]
fn stale_events_are_dropped_and_rebuild_the_queue() {
    let mut c = Core::new();
    c.k().open_fd(5);
    c.set(5, R);
    c.poll(0.0);
    c.reset(5, R);
    c.poll(0.0);
    let old = c.fd();
    // An old generation of fd 5, and an fd we never had.
    c.k().inject.push(ev(5, Read, 0, 1, 1));
    assert!(c.poll(0.0).is_empty());
    assert!(c.out.rebuild);
    c.k().inject.push(ev(100_000, Write, 0, 1, 1));
    assert!(c.poll(0.0).is_empty());
    assert!(c.out.rebuild);
    // The core's answer: fork() (same process: the old queue is closed) and re-register.
    c.rearm_all();
    assert_ne!(c.fd(), old);
    assert_eq!(*c.k().closed.borrow(), vec![old]);
    c.k().ready.insert((5, Read));
    assert_eq!(c.poll(0.0), vec![(5, EV_READ)]);
    let call = c.k().last().clone();
    assert_eq!((call.kq, call.changes), (c.fd(), vec![add(5, Read, 3)]));
}

#[test]
fn fork_recreates_the_queue_and_reregisters_everything() {
    let mut c = Core::new();
    c.k().open_fd(5);
    c.k().open_fd(6);
    c.set(5, R);
    c.set(6, R | W);
    c.poll(0.0);
    let old = c.fd();
    // Queued but unsent changes belong to the old queue.
    c.set(6, W);
    c.k().fork_child();
    c.rearm_all();
    assert!(
        c.k().closed.borrow().is_empty(),
        "the child must not close the parent's queue number"
    );
    assert_ne!(c.fd(), old);
    c.k().ready.extend([(5, Read), (6, Write)]);
    let mut got = c.poll(0.0);
    got.sort();
    assert_eq!(got, vec![(5, EV_READ), (6, EV_WRITE)]);
    let call = c.k().last().clone();
    assert_eq!(call.kq, c.fd());
    // fd 6: generation 1 (R|W), 2 (W, never sent), 3 (re-registration).
    assert_eq!(call.changes, vec![add(5, Read, 2), add(6, Write, 3)]);
    assert!(c.k().syserrs.is_empty());
}

#[test]
fn a_child_running_the_loop_without_loop_fork_rebuilds() {
    let mut c = Core::new();
    c.k().open_fd(5);
    c.set(5, R);
    c.poll(0.0);
    c.k().fork_child();
    c.poll(0.0);
    assert!(c.out.rebuild);
    assert!(c.k().syserrs.is_empty());
    c.rearm_all();
    assert!(c.k().closed.borrow().is_empty());
    c.k().ready.insert((5, Read));
    assert_eq!(c.poll(0.0), vec![(5, EV_READ)]);
}

#[test]
fn review_a_lost_queue_number_is_rebuilt_not_fatal_and_never_closed() {
    // pgagroal's workers close fd numbers taken from the main process's tables, which can be
    // the worker's own loop fds (docs/pgagroal.md §7.1; epoll survives it through
    // protect_fd + Members and a rebuild). kevent() on a closed number, or on a number that
    // now holds another (non-kqueue) file, fails with EBADF: that must rebuild the queue,
    // not abort through syserr, and the rebuild must not close the old number, which may
    // now be the application's file.
    let mut c = Core::new();
    c.k().open_fd(5);
    c.set(5, R);
    c.poll(0.0);
    let old = c.fd();
    // The application closes our queue's number and reuses it for its own socket.
    c.k().close(old);
    c.k().closed.borrow_mut().clear();
    c.k().open_fd(old as u64);
    c.poll(1.0);
    assert!(c.k().syserrs.is_empty(), "syserr: {:?}", c.k().syserrs);
    assert!(c.out.rebuild);
    c.rearm_all();
    assert!(
        c.k().closed.borrow().is_empty(),
        "closed the application's file at the old queue number"
    );
    assert_ne!(c.fd(), old);
    c.k().ready.insert((5, Read));
    assert_eq!(c.poll(0.0), vec![(5, EV_READ)]);
    // The new queue is ours again: closed normally on drop.
    let closed = c.kq.kernel.closed.clone();
    let fd = c.fd();
    drop(c);
    assert_eq!(*closed.borrow(), vec![fd]);
}

#[test]
fn kevent_failure_reports_syserr() {
    let mut c = Core::new();
    c.k().fail_next = Some(libc::EFAULT);
    c.poll(0.0);
    assert_eq!(c.k().syserrs, vec!["(libev) kqueue kevent".to_owned()]);
    assert!(!c.out.rebuild);
}

#[test]
fn eintr_does_not_resubmit_applied_changes() {
    let mut c = Core::new();
    c.k().open_fd(5);
    c.set(5, R);
    c.k().fail_next = Some(libc::EINTR);
    assert!(c.poll(5.0).is_empty());
    assert!(c.k().syserrs.is_empty() && !c.out.rebuild);
    assert!(c.kq.changes.is_empty());
    let kq = c.fd();
    assert_eq!(c.k().filters(kq, 5), vec![Read]);
    c.k().ready.insert((5, Read));
    assert_eq!(c.poll(5.0), vec![(5, EV_READ)]);
    assert!(c.k().last().changes.is_empty());
}

#[test]
fn event_array_grows_for_changes_and_for_full_results() {
    let mut c = Core::new();
    assert_eq!(c.kq.events.len(), INITIAL_EVENTS);
    // 400 changes that all fail: every error must fit, or the kernel fails the whole call.
    for fd in 0..200 {
        c.set(fd, R | W);
    }
    c.poll(0.0);
    assert!(c.k().last().nevents >= 400);
    assert!(c.k().syserrs.is_empty());
    assert_eq!(c.out.kill.len(), 200);
    // A full result array grows for the next wait (libev's array_nextsize).
    let mut c = Core::new();
    for fd in 0..64 {
        c.k().open_fd(fd);
        c.set(fd as i32, R);
        c.k().ready.insert((fd, Read));
    }
    assert_eq!(c.poll(0.0).len(), 64);
    assert_eq!(c.kq.events.len(), 255);
}

#[test]
fn review_event_array_grows_as_libevs_array_nextsize() {
    // libev 4.33 kqueue_poll: array_nextsize (sizeof (struct kevent), eventmax, changecnt)
    // before the call, array_nextsize (..., eventmax, eventmax + 1) after a full result.
    // With a 32-byte kevent: 64 -> 255 (130 rounded to whole 4 KiB pages), and 400 changes
    // -> 639 (520 rounded). Evring doubled (128, then the next power of two, 512), so one
    // wait returned a different number of events than libev's (batching of callbacks).
    let mut c = Core::new();
    for fd in 0..64 {
        c.k().open_fd(fd);
        c.set(fd as i32, R);
        c.k().ready.insert((fd, Read));
    }
    assert_eq!(c.poll(0.0).len(), 64);
    assert_eq!(c.kq.events.len(), 255);
    let mut c = Core::new();
    for fd in 0..200 {
        c.set(fd, R | W);
    }
    c.poll(0.0);
    assert_eq!(c.k().last().nevents, 639);
}

#[test]
fn kqueue_failures() {
    let mut f = fake();
    f.kqueue_failures = 1;
    assert!(Kqueue::with_kernel(f).is_none());
    let mut c = Core::new();
    c.k().kqueue_failures = 2;
    c.rearm_all();
    assert_eq!(
        c.k().syserrs,
        vec!["(libev) kqueue".to_owned(), "(libev) kqueue".to_owned()]
    );
    let kq = c.fd();
    assert!(c.k().live_kqs.contains(&kq));
}

#[test]
fn drop_closes_the_queue_only_in_the_creating_process() {
    let c = Core::new();
    let closed = c.kq.kernel.closed.clone();
    let fd = c.fd();
    drop(c);
    assert_eq!(*closed.borrow(), vec![fd]);
    let mut c = Core::new();
    let closed = c.kq.kernel.closed.clone();
    c.k().fork_child();
    drop(c);
    assert!(closed.borrow().is_empty());
}

#[test]
fn available_only_on_bsd() {
    assert_eq!(
        available(),
        cfg!(any(
            target_os = "freebsd",
            target_os = "dragonfly",
            target_os = "netbsd",
            target_os = "openbsd",
            target_os = "macos"
        ))
    );
}

#[test]
fn review_persistent_ebadf_on_a_valid_fd_neither_grows_nor_spins() {
    // An fd that stays open (fcntl(F_GETFD) succeeds) but whose EV_ADD the kernel keeps
    // refusing with EBADF (FreeBSD: an O_PATH descriptor, whose fo_kqfilter answers EBADF).
    // Each EV_ERROR entry used to re-add *every* wanted filter: 2, 4, 8, 16, ... changes per
    // call, each call returning at once (error entries end kevent() without waiting).
    let mut c = Core::new();
    c.k().open_fd(5);
    c.k().refuse.insert((5, Read), libc::EBADF);
    c.k().refuse.insert((5, Write), libc::EBADF);
    c.set(5, R | W);
    let mut killed = false;
    for _ in 0..8 {
        c.poll(1.0);
        assert!(
            c.k().last().changes.len() <= 2,
            "change list grew to {}",
            c.k().last().changes.len()
        );
        killed |= c.out.kill.contains(&5);
    }
    assert!(
        killed,
        "a filter the kernel keeps refusing must end in EV_ERROR"
    );
    // Once killed, nothing is resubmitted: the loop waits again.
    assert!(c.k().last().changes.is_empty());
}

#[test]
fn review_transient_ebadf_readds_each_failed_filter_once() {
    // EBADF for both filters, fd valid when checked (reopened meanwhile): one add per filter.
    let mut c = Core::new();
    c.k().open_fd(5);
    c.k().refuse.insert((5, Read), libc::EBADF);
    c.k().refuse.insert((5, Write), libc::EBADF);
    c.set(5, R | W);
    c.poll(0.0);
    assert!(c.out.kill.is_empty());
    let mut ch = c.kq.changes.clone();
    ch.sort_by_key(|e| e.filter);
    assert_eq!(ch, vec![add(5, Read, 1), add(5, Write, 1)]);
    c.k().refuse.clear();
    c.k().ready.extend([(5, Read), (5, Write)]);
    let mut got = c.poll(0.0);
    got.sort();
    assert_eq!(got, vec![(5, EV_READ), (5, EV_WRITE)]);
    // A later user change starts afresh (a new transient EBADF is retried again).
    c.k().refuse.insert((5, Read), libc::EBADF);
    c.set(5, R);
    c.poll(0.0);
    assert!(c.out.kill.is_empty());
    assert_eq!(c.kq.changes, vec![add(5, Read, 2)]);
}
