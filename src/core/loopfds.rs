//! Loop-owned fds that survive an application closing them or reusing their numbers.
//!
//! A loop owns kernel objects reached through fds: the wakeup eventfd (or self-pipe), the
//! signalfd (`EVFLAG_SIGNALFD`), the wall-clock timerfd and the backend's epoll fd. They live
//! at high numbers ([`crate::sys::protect_fd`]), but an application that closes fd numbers it
//! does not own (pgagroal's workers close numbers taken from their parent's tables) or
//! `dup2()`s a file onto one can still hit them. libev then writes its wakeup bytes into the
//! application's file, reads from it, or closes it at destroy.
//!
//! # Design: every object is reachable through three numbers ([`Members`])
//! Each object is duplicated onto three high fd numbers. The loop watches the first two (two
//! internal io watchers; only the first for the wakeup eventfd on an epoll set, see
//! `Loop::obj_start`) and writers (`ev_async_send`, the signal handler) write to any
//! member that still holds the object. Closing or `dup2()`-ing over one number therefore
//! loses nothing:
//! * the object stays alive through the other numbers, so epoll keeps reporting it (an epoll
//!   registration belongs to the open file, not to the number) and so do io_uring polls;
//!   poll/select report `POLLNVAL`/`EBADF` for a closed number (its watcher is killed with
//!   `EV_ERROR`), and for a number that now names another file the second watched number
//!   still wakes the loop;
//! * whenever an internal watcher fires (readable or `EV_ERROR`; not for the edge-triggered
//!   wakeup eventfd, which is never read, see `Loop::obj_start`), and in any case once a
//!   second of loop activity (`Loop::fds_health`: objects that stay silent, such as the
//!   timerfd, must not pile up losses), the loop checks that all three numbers still hold
//!   the object (see tags below for the cheap form of this check); if not, it rebuilds it:
//!   the new
//!   object is `dup3()`ed onto the numbers that still hold the old one (so a writer that read
//!   the old numbers writes into the new object) and gets fresh numbers for the lost ones.
//!   Signals and asyncs are flags in atomics and are rescanned after a rebuild; pending
//!   signals stay queued in the kernel and make the new signalfd readable; a rebuilt timerfd
//!   reschedules the periodics (a clock change may have been missed meanwhile).
//!
//! Identity is decided by `kcmp(KCMP_FILE)` between members (numbers that still name one
//! open file are ours; with three members a majority tells which ones are lost) together
//! with `fstat`: device, inode and type must be those recorded at creation. `fstat` alone is
//! exact for pipes, but all eventfds, signalfds, timerfds and epoll fds share one anonymous
//! inode; `kcmp` alone would accept one application file `dup2()`ed onto two of our numbers.
//! Where `kcmp` is unavailable (kernel without `CONFIG_KCMP`, seccomp, valgrind), `fstat`
//! alone decides.
//!
//! That exact check costs ~1.5 us (`kcmp` alone ~1 us here), too much for every wake-up: an
//! `ev_async_send` ping-pong between two threads took 2x libev's time with it (bench_wakeup).
//! So the two objects that wake the loop in normal operation, the wakeup object (each end of
//! a self-pipe) and the signalfd, get a *tag* when they are created, before any other number
//! names them: `F_SETSIG` on the open file ([`sys::fd_tag`]; a field the kernel reads only
//! to signal `O_ASYNC` files, which the loop never makes, and lease breaks). A tag belongs to
//! the open file, not to the number, and no two live objects of the process share one: an
//! application file put onto a member, a closed member, and another object that the library
//! itself later put at a member number the application had closed (`F_DUPFD` hands out the
//! lowest free number) all fail the check. At a wake-up the loop checks the tags of all the
//! object's numbers (not for the edge-triggered wakeup eventfd, which it never reads) and a
//! writer the tag of the number it writes to (one `fcntl` each); a missing tag sends them to
//! the exact check (and a failed one to the rebuild, whose new object gets a new tag). With all 28 tags taken, an object is untagged and always checked
//! the exact way.
//!
//! # Cost
//! No system call per loop iteration (a float compare). `ev_async_send`/the signal handler
//! add one `fcntl` when they actually write (only while the loop sleeps); the wakeup eventfd
//! firing on an epoll set adds nothing (it is watched edge-triggered through one number and
//! never read: `Loop::obj_start`); the signalfd, or the wakeup object on another backend,
//! firing adds three (six for a self-pipe); creating one adds one; the timerfd
//! takes the exact check (two `kcmp`s and one `fstat`) when it fires, and the periodic check
//! costs the same per object at most once a second, and only while the loop is awake anyway.
//! Destroy, fork and rebuilds check every member exactly before closing or replacing any.
//!
//! # Limits
//! * Each object costs two extra fds (at most eight per loop: wakeup, signalfd, timerfd, epoll)
//!   while numbers are to be had; close to `RLIMIT_NOFILE` (EMFILE) an object takes what it
//!   can get, down to its single original number, so a loop still works wherever libev's
//!   would, with less protection.
//! * An application that clobbers two of the three numbers of one object within one check
//!   interval can make the loop miss that object's wake-ups until the next check repairs it
//!   (at the latest when the loop next wakes for a timer or io, plus a second).
//! * Not recognised as foreign: one anonymous-inode file of the application (its own
//!   eventfd, signalfd, timerfd or epoll fd) `dup2()`ed onto two or more numbers of one
//!   object; without `kcmp`, such a file at any one of our numbers; an application file to
//!   which the application itself gave `F_SETSIG` with exactly our object's tag (a signal
//!   number from 1 to 31) and then `dup2()`ed onto our number, until the next exact check.
//! * The check and the write are two system calls: an application thread that `dup2()`s onto
//!   a member between them (racing an `ev_async_send` in another thread) is not protected.
//!   Nor is a writer that read the tag of an object being rebuilt, is delayed until that tag
//!   was given to a new object of another loop (tags are handed out round-robin: after 27
//!   others) which also took one of our closed numbers, and then writes.
//! * The io_uring ring fd is the io_uring backend's business (see `backend/uring.rs`).

use crate::sys;
use core::ffi::c_int;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};

/// How many numbers each object is reachable through.
pub const MEMBERS: usize = 3;

/// Tags ([`sys::fd_tag`]): signal numbers, each held by at most one live tagged object of
/// this process, so that no object of ours is taken for another. The library itself hands a
/// member number the application closed to the next object any loop creates (`F_DUPFD`
/// takes the lowest free number): with one tag per kind of object, another loop's wakeup
/// object at our closed number passed the check (review; t_evring_wake_reuse). Signals 1-31
/// without SIGKILL, SIGSTOP (which an application that sets `O_ASYNC` on our fd would
/// receive) and SIGIO (the usual `F_SETSIG` choice of applications; the real-time signals
/// are the others). Round-robin: a freed tag is handed out again only after the others.
mod tags {
    use core::ffi::c_int;
    use core::sync::atomic::{AtomicU32, Ordering};

    const SIGNALS: [c_int; 28] = [
        1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22, 23, 24, 25, 26, 27,
        28, 30, 31,
    ];
    static USED: AtomicU32 = AtomicU32::new(0);
    static NEXT: AtomicU32 = AtomicU32::new(0);

    /// A tag no live object holds, or 0 when all are taken (the object stays untagged and is
    /// checked the exact way at every wake-up).
    pub fn alloc() -> c_int {
        let start = NEXT.fetch_add(1, Ordering::Relaxed) as usize;
        for k in 0..SIGNALS.len() {
            let i = (start + k) % SIGNALS.len();
            let bit = 1u32 << i;
            if USED.fetch_or(bit, Ordering::AcqRel) & bit == 0 {
                NEXT.store((i + 1) as u32, Ordering::Relaxed);
                return SIGNALS[i];
            }
        }
        0
    }

    pub fn free(tag: c_int) {
        if let Some(i) = SIGNALS.iter().position(|&s| s == tag) {
            USED.fetch_and(!(1u32 << i), Ordering::AcqRel);
        }
    }

    #[cfg(all(test, target_os = "linux"))]
    pub fn in_use(tag: c_int) -> bool {
        SIGNALS
            .iter()
            .position(|&s| s == tag)
            .is_some_and(|i| USED.load(Ordering::Acquire) & (1 << i) != 0)
    }
}

/// Give the fresh object `fd` (no other number names it yet) a tag of its own: 0 if none is
/// free or the kernel refuses (then it is checked the exact way).
fn tag_fresh(fd: c_int) -> c_int {
    let t = tags::alloc();
    if t != 0 && !sys::set_fd_tag(fd, t) {
        tags::free(t);
        return 0;
    }
    t
}

/// What `fstat` says about an object (the fallback identity when `kcmp` is unavailable).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Ident {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
}

/// `fstat(fd)`'s identity, or `None` if `fd` is not open.
pub fn ident(fd: c_int) -> Option<Ident> {
    if fd < 0 {
        return None;
    }
    // SAFETY: all-zero is a valid `stat`.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    if sys::fstat(fd, &mut st) != 0 {
        return None;
    }
    Some(Ident {
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        mode: st.st_mode as u32,
    })
}

/// This process's pid (cached per fork).
pub use crate::ffi::atfork::pid;

/// Do `a` and `b` name the same open file? `None` when the kernel cannot tell (`kcmp`
/// missing or forbidden). A closed number is "not the same". Async-signal-safe; errno is
/// clobbered (writers save it).
pub fn same_file(a: c_int, b: c_int) -> Option<bool> {
    if a < 0 || b < 0 {
        return Some(false);
    }
    #[cfg(target_os = "linux")]
    {
        const KCMP_FILE: libc::c_long = 0;
        let p = pid() as libc::c_long;
        // SAFETY: kcmp takes only integers.
        let r = unsafe {
            libc::syscall(
                libc::SYS_kcmp,
                p,
                p,
                KCMP_FILE,
                a as libc::c_long,
                b as libc::c_long,
            )
        };
        if r == 0 {
            return Some(true);
        }
        if r > 0 || sys::errno() == libc::EBADF {
            return Some(false);
        }
        None
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Which members still hold the object: by majority of `kcmp` (where available), and by
/// `fstat` against `id` (which rejects an application's file put onto several of our numbers
/// unless it is an anonymous-inode file too). Async-signal-safe.
pub fn alive(fds: &[c_int; MEMBERS], id: &Ident) -> [bool; MEMBERS] {
    let [a, b, c] = *fds;
    let by_ident = |x: c_int| ident(x).is_some_and(|i| i == *id);
    let k = match same_file(a, b) {
        Some(true) if same_file(a, c) == Some(true) => {
            // One open file at all three numbers (the common case): one identity check.
            let ours = by_ident(a);
            return [ours; MEMBERS];
        }
        Some(true) => [true, true, false],
        Some(false) => {
            let ac = same_file(a, c) == Some(true);
            let bc = same_file(b, c) == Some(true);
            [ac, bc, ac || bc]
        }
        None => [true; MEMBERS],
    };
    [
        k[0] && by_ident(a),
        k[1] && by_ident(b),
        k[2] && by_ident(c),
    ]
}

/// The first member that still holds the object, checked as cheaply as possible (one
/// `kcmp` and one `fstat` in the common case). Async-signal-safe.
pub fn first_alive(fds: &[c_int; MEMBERS], id: &Ident) -> Option<c_int> {
    if same_file(fds[0], fds[1]) == Some(true) && ident(fds[0]).is_some_and(|i| i == *id) {
        return Some(fds[0]);
    }
    let al = alive(fds, id);
    (0..MEMBERS).find(|&i| al[i]).map(|i| fds[i])
}

/// One loop-owned object and the numbers it is reachable through (-1 = none).
#[derive(Clone, Copy, Debug)]
pub struct Members {
    pub fds: [c_int; MEMBERS],
    pub id: Ident,
    /// The object's own tag (0 = untagged: no cheap check).
    pub tag: c_int,
}

impl Members {
    pub const NONE: Members = Members {
        fds: [-1; MEMBERS],
        id: Ident {
            dev: 0,
            ino: 0,
            mode: 0,
        },
        tag: 0,
    };

    pub fn is_some(&self) -> bool {
        self.fds[0] >= 0
    }

    /// The two numbers the loop watches (no syscall: the loop checks them when they fire).
    pub fn watched(&self) -> [c_int; 2] {
        [self.fds[0], self.fds[1]]
    }

    /// The cheap check made when the object wakes the loop: every number names a file
    /// carrying the object's own tag (one `fcntl` per distinct number). False for an
    /// untagged object; the caller then makes the exact check ([`Members::intact`]).
    pub fn all_tagged(&self) -> bool {
        let [a, b, c] = self.fds;
        self.tag != 0
            && sys::fd_tag(a) == self.tag
            && (b == a || sys::fd_tag(b) == self.tag)
            && (c == a || c == b || sys::fd_tag(c) == self.tag)
    }

    /// Do all numbers still name the object? (Two `kcmp`s and one `fstat`: the exact check.)
    /// Every member is checked, not only the watched ones: a lost third member left
    /// unrepaired would let a later loss of a watched one look like two lost numbers out of
    /// three. (The tag check at wake-ups looks at the watched ones only; the third is
    /// covered by the once-a-second check.)
    pub fn intact(&self) -> bool {
        let [a, b, c] = self.fds;
        match same_file(a, b) {
            Some(true) => same_file(a, c) == Some(true) && ident(a).is_some_and(|i| i == self.id),
            Some(false) => false,
            None => self
                .fds
                .iter()
                .all(|&f| ident(f).is_some_and(|i| i == self.id)),
        }
    }

    /// Spread the fresh object `fd` over three numbers and close `fd`. Numbers of `old` that
    /// still hold the old object (`old_alive`) are reused: the new object is `dup3()`ed onto
    /// them, so a concurrent writer holding an old number writes into the new object. The
    /// others (closed or now the application's) are never touched; fresh high numbers
    /// replace them. When numbers run short, members repeat a number (at worst `fd` itself
    /// for all three); `None` only if `fd` cannot be `fstat`ed.
    pub fn spread(fd: c_int, old: &Members, old_alive: [bool; MEMBERS]) -> Option<Members> {
        Members::spread_inner(fd, old, old_alive, false)
    }

    /// [`Members::spread`] for an object checked at every wake-up: it is tagged before any
    /// other number names it (tagging later, through a number, could tag an application
    /// file `dup2()`ed there meanwhile: review). The caller gives the old object's tag back
    /// ([`Members::drop_tag`]) once the new object replaced it.
    pub fn spread_tagged(fd: c_int, old: &Members, old_alive: [bool; MEMBERS]) -> Option<Members> {
        Members::spread_inner(fd, old, old_alive, true)
    }

    fn spread_inner(
        fd: c_int,
        old: &Members,
        old_alive: [bool; MEMBERS],
        tagged: bool,
    ) -> Option<Members> {
        let id = ident(fd)?;
        let tag = if tagged { tag_fresh(fd) } else { 0 };
        let mut fds = [-1; MEMBERS];
        for i in 0..MEMBERS {
            fds[i] = if old.fds[i] >= 0 && old_alive[i] {
                // Both numbers are ours (old_alive was just checked by the caller).
                if sys::dup_onto(fd, old.fds[i]) >= 0 {
                    old.fds[i]
                } else {
                    sys::dup_high(fd)
                }
            } else {
                sys::dup_high(fd)
            };
        }
        if !collapse_short(&mut fds) {
            // Not one high number: the object stays at its own number, unprotected.
            fds = [fd; MEMBERS];
        } else {
            sys::close(fd);
        }
        Some(Members { fds, id, tag })
    }

    /// Give the tag back: the object was replaced (its numbers reused by a rebuilt one) or
    /// is gone. Exactly once per object: [`Members::release`] does it too.
    pub fn drop_tag(&mut self) {
        if self.tag != 0 {
            tags::free(self.tag);
            self.tag = 0;
        }
    }

    /// Take over a freshly created object (no old numbers to reuse).
    pub fn new(fd: c_int) -> Option<Members> {
        Members::spread(fd, &Members::NONE, [false; MEMBERS])
    }

    /// Close the members that still hold the object; numbers taken over by the application
    /// are left alone. Afterwards `self` is [`Members::NONE`].
    pub fn release(&mut self) {
        self.drop_tag();
        if self.is_some() {
            let al = alive(&self.fds, &self.id);
            for (i, (&fd, ours)) in self.fds.iter().zip(al).enumerate() {
                // Once per number: a member may repeat another's number (see `spread`), and
                // a second close could hit a file another thread just opened there.
                if ours && !self.fds[..i].contains(&fd) {
                    sys::close(fd);
                }
            }
        }
        *self = Members::NONE;
    }
}

/// Short of numbers (EMFILE near RLIMIT_NOFILE, some members got none): the object lives on
/// ONE number, repeated in every member, with less protection, rather than not at all where
/// libev's single number works (differential hunt: a default loop needed 6 free fds, libev
/// 2). One number, not two distinct ones with a repeat: the kcmp majority vote would then
/// count the surviving number as lost once the repeated one is closed (review). The other
/// numbers got are closed. Returns false when no member got a number.
fn collapse_short(fds: &mut [c_int; MEMBERS]) -> bool {
    if fds.iter().all(|&f| f >= 0) {
        return true;
    }
    let Some(good) = fds.iter().copied().find(|&f| f >= 0) else {
        return false;
    };
    for f in fds.iter_mut() {
        if *f >= 0 && *f != good {
            sys::close(*f);
        }
        *f = good;
    }
    true
}

/// The wakeup object as writers see it (`ev_async_send` from any thread, signal handlers):
/// atomics only. A reader may see a mix of old and new numbers while the loop rebuilds; the
/// members it checks are either ours (old numbers that were kept point at the new object)
/// or rejected.
pub struct WakeFds {
    fds: [AtomicI32; MEMBERS],
    dev: AtomicU64,
    ino: AtomicU64,
    mode: AtomicU32,
    /// Fork generation the object was made for: a forked child never writes into its
    /// parent's object (it gets its own at `ev_loop_fork`).
    gen: AtomicU64,
    is_eventfd: AtomicBool,
    /// The object's tag (0: untagged, always the exact check).
    tag: AtomicI32,
}

impl Default for WakeFds {
    fn default() -> Self {
        WakeFds {
            fds: [const { AtomicI32::new(-1) }; MEMBERS],
            dev: AtomicU64::new(0),
            ino: AtomicU64::new(0),
            mode: AtomicU32::new(0),
            gen: AtomicU64::new(0),
            is_eventfd: AtomicBool::new(false),
            tag: AtomicI32::new(0),
        }
    }
}

impl WakeFds {
    /// Make `m` (the write side) the object writers use.
    pub fn publish(&self, m: &Members, is_eventfd: bool) {
        self.is_eventfd.store(is_eventfd, Ordering::Relaxed);
        self.dev.store(m.id.dev, Ordering::Relaxed);
        self.ino.store(m.id.ino, Ordering::Relaxed);
        self.mode.store(m.id.mode, Ordering::Relaxed);
        self.tag.store(m.tag, Ordering::Relaxed);
        self.gen
            .store(crate::ffi::atfork::generation(), Ordering::Relaxed);
        for i in 0..MEMBERS {
            self.fds[i].store(m.fds[i], Ordering::Release);
        }
    }

    /// No object any more (loop destroyed): writers do nothing.
    pub fn clear(&self) {
        for f in &self.fds {
            f.store(-1, Ordering::Release);
        }
    }

    pub fn is_eventfd(&self) -> bool {
        self.is_eventfd.load(Ordering::Relaxed)
    }

    /// If this process has an object to write to: run `before` (the caller's bookkeeping,
    /// which must precede the write), then write one wake-up token into a member that still
    /// holds the object (nothing if none does). No object: none made yet, the loop destroyed,
    /// or a forked child that has not rebuilt the loop yet. Async-signal-safe; the caller
    /// preserves errno. Only the first number is read on the common path (its tag
    /// matches); the others and the identity only when it does not.
    #[inline]
    pub fn write_if_present(&self, before: impl FnOnce()) {
        let fd0 = self.fds[0].load(Ordering::Acquire);
        if fd0 < 0 || self.gen.load(Ordering::Relaxed) != crate::ffi::atfork::generation() {
            return;
        }
        before();
        // The tag says the first number holds our object (the loop tags it once its full
        // check passed); otherwise find a member the expensive way.
        let tag = self.tag.load(Ordering::Relaxed);
        let fd = if tag != 0 && sys::fd_tag(fd0) == tag {
            fd0
        } else {
            match self.find_member(fd0) {
                Some(fd) => fd,
                None => return,
            }
        };
        if self.is_eventfd() {
            let one: u64 = 1;
            // SAFETY: writing 8 valid bytes to our eventfd (checked just above).
            unsafe { libc::write(fd, &one as *const u64 as *const libc::c_void, 8) };
        } else {
            let b: u8 = 0;
            // SAFETY: writing one valid byte to our pipe (checked just above).
            unsafe { libc::write(fd, &b as *const u8 as *const libc::c_void, 1) };
        }
    }

    /// The first member that still holds the object, by the exact check (`fd0`: the first
    /// number as already read).
    #[cold]
    #[inline(never)]
    fn find_member(&self, fd0: c_int) -> Option<c_int> {
        let fds = [
            fd0,
            self.fds[1].load(Ordering::Acquire),
            self.fds[2].load(Ordering::Acquire),
        ];
        let id = Ident {
            dev: self.dev.load(Ordering::Relaxed),
            ino: self.ino.load(Ordering::Relaxed),
            mode: self.mode.load(Ordering::Relaxed),
        };
        first_alive(&fds, &id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An anonymous-inode object where the system has one (eventfd), else a pipe's read end.
    fn efd() -> c_int {
        #[cfg(any(target_os = "linux", target_os = "freebsd"))]
        {
            // SAFETY: plain syscall.
            unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) }
        }
        #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
        {
            pipe()[0]
        }
    }

    fn pipe() -> [c_int; 2] {
        let mut p = [0; 2];
        // SAFETY: valid out-array.
        assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
        p
    }

    fn dup2(from: c_int, to: c_int) {
        // SAFETY: in these tests `to` is always one of the test's own numbers.
        assert_eq!(unsafe { libc::dup2(from, to) }, to);
    }

    #[test]
    fn a_foreign_file_on_one_number_is_found_and_never_reused() {
        let m = Members::new(efd()).unwrap();
        assert_eq!(alive(&m.fds, &m.id), [true; 3]);
        assert!(m.intact());
        let p = pipe();
        dup2(p[0], m.fds[0]);
        assert!(!m.intact());
        assert_eq!(alive(&m.fds, &m.id), [false, true, true]);
        assert_eq!(first_alive(&m.fds, &m.id), Some(m.fds[1]));
        // Rebuild: the pipe's number gets no new object, the others are reused.
        let mut n = Members::spread(efd(), &m, alive(&m.fds, &m.id)).unwrap();
        assert_ne!(n.fds[0], m.fds[0]);
        assert_eq!(&n.fds[1..], &m.fds[1..]);
        assert!(n.intact());
        assert_eq!(ident(m.fds[0]), ident(p[0]));
        // A closed third member is noticed too.
        sys::close(n.fds[2]);
        assert!(!n.intact());
        assert_eq!(alive(&n.fds, &n.id), [true, true, false]);
        n.release();
        assert!(!n.is_some());
        // The pipe at the old number was left open.
        assert_eq!(ident(m.fds[0]), ident(p[0]));
        for f in [m.fds[0], p[0], p[1]] {
            sys::close(f);
        }
    }

    /// Short of numbers, the object is kept on one number (never two distinct ones with a
    /// repeat, which the majority vote misjudges once the repeated one is closed: review).
    #[test]
    fn short_of_numbers_one_number_for_all_members() {
        let e = efd();
        let a = sys::dup_high(e);
        let b = sys::dup_high(e);
        let mut fds = [a, -1, b];
        assert!(collapse_short(&mut fds));
        assert_eq!(fds, [a, a, a]);
        assert!(ident(b).is_none(), "the extra number is closed");
        let id = ident(e).unwrap();
        assert_eq!(alive(&fds, &id), [true; 3]);
        let mut m = Members { fds, id, tag: 0 };
        m.release();
        assert!(ident(a).is_none());
        assert!(ident(e).is_some());
        let mut none = [-1; MEMBERS];
        assert!(!collapse_short(&mut none));
        sys::close(e);
    }

    /// The cheap wake-up check: a tagged object's tag is seen through every member (it
    /// belongs to the open file); a foreign file put onto a member, or a closed member,
    /// fails it; two live objects never share a tag, and a rebuilt object gets a new one.
    #[cfg(target_os = "linux")]
    #[test]
    fn tags_follow_the_object_not_the_number() {
        let m = Members::spread_tagged(efd(), &Members::NONE, [false; MEMBERS]).unwrap();
        assert_ne!(m.tag, 0);
        assert!(m.all_tagged());
        for f in m.fds {
            assert_eq!(sys::fd_tag(f), m.tag);
        }
        let mut other = Members::spread_tagged(efd(), &Members::NONE, [false; MEMBERS]).unwrap();
        assert_ne!(other.tag, m.tag, "two live objects, two tags");
        let untagged = Members::new(efd()).unwrap();
        assert_eq!(untagged.tag, 0);
        assert!(!untagged.all_tagged());
        let p = pipe();
        dup2(p[0], m.fds[2]);
        assert!(!m.all_tagged(), "a foreign file on a member");
        assert_eq!(sys::fd_tag(p[0]), 0, "the application's file is not tagged");
        // Another loop's object at our number (the library reuses closed numbers).
        dup2(other.fds[0], m.fds[2]);
        assert!(!m.all_tagged(), "another object's tag is not ours");
        sys::close(m.fds[2]);
        assert!(!m.all_tagged(), "a closed member");
        // A rebuilt object at the kept numbers has a new tag; the old one is given back.
        let old_tag = m.tag;
        let mut n = Members::spread_tagged(efd(), &m, alive(&m.fds, &m.id)).unwrap();
        assert_eq!(n.fds[0], m.fds[0]);
        assert_ne!(n.tag, 0);
        assert_ne!(n.tag, old_tag);
        assert!(tags::in_use(old_tag));
        let mut m = m;
        m.drop_tag();
        assert!(!tags::in_use(old_tag));
        m.drop_tag(); // once only
        assert!(tags::in_use(n.tag));
        assert!(n.all_tagged());
        let t = n.tag;
        n.release();
        assert!(!tags::in_use(t));
        other.release();
        let mut u = untagged;
        u.release();
        for f in [p[0], p[1]] {
            sys::close(f);
        }
    }

    #[test]
    fn one_foreign_file_on_every_number_is_not_ours() {
        let mut m = Members::new(efd()).unwrap();
        let p = pipe();
        for &f in &m.fds {
            dup2(p[1], f);
        }
        // kcmp says the three numbers name one file, fstat says it is not the eventfd.
        assert_eq!(alive(&m.fds, &m.id), [false; 3]);
        assert_eq!(first_alive(&m.fds, &m.id), None);
        assert!(!m.intact());
        let fds = m.fds;
        m.release();
        for f in fds {
            assert_eq!(ident(f), ident(p[1]), "release closed a foreign file");
            sys::close(f);
        }
        sys::close(p[0]);
        sys::close(p[1]);
    }
}
