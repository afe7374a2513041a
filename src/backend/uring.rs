//! io_uring backend (`EVBACKEND_IOURING`, Linux ≥ 5.11).
//!
//! Three strategies, chosen by the private environment variable `EVRING_URING_MODE`
//! (`poll`, `epollctl`, `epollwait`; the default is [`DEFAULT_MODE`], picked by the
//! measurements in bench/uring/RESULTS.md):
//!
//! * `poll`: one-shot `IORING_OP_POLL_ADD` per fd with the union mask, re-armed after every
//!   completion (libev's `ev_iouring.c`; io_uring poll is edge-triggered after the first
//!   completion, so multishot cannot give level-triggered semantics). Interest changes are
//!   `POLL_REMOVE` + `POLL_ADD` with a new generation; the re-arms, changes and the wait (the
//!   timeout rides on the enter through `EXT_ARG`, in ns) are one `io_uring_enter`.
//!   Limitation: an armed poll holds a reference to the file, so between `ev_io_stop` and the
//!   next `ev_run` iteration a `close(fd)` does not release the file.
//! * `epollctl`: epoll gives level-triggered readiness, exactly as the epoll backend; the
//!   interest changes of one iteration go to the kernel as `IORING_OP_EPOLL_CTL` requests in
//!   one enter that waits for all of them, before `epoll_wait`.
//! * `epollwait` (kernel 6.15+, probed; otherwise `epollctl`): the `EPOLL_CTL` requests and
//!   one `IORING_OP_EPOLL_WAIT` go in ONE enter, so changes and the wait cost one syscall.
//!
//! In both epoll strategies, iterations without changes use plain `epoll_wait`, and up to
//! [`SMALL_BATCH`] changes go out as plain `epoll_ctl` calls (measured: a ring round trip
//! for one or two requests costs more than the syscalls it saves), normally applied in
//! `fd_reify` itself, exactly as the epoll backend does ([`Uring::reify_begin`]); larger
//! batches are recorded and go to the kernel inside `poll`. Whatever path the changes take,
//! a failure that gives the loop work (an EPERM fd, which is always ready; a bad fd, whose
//! watchers get `EV_ERROR`; a failed narrowing, which rebuilds the set) makes the wait that
//! follows non-blocking (in `fd_reify`, or [`Uring::ctl_made_work`] for recorded changes):
//! libev's epoll backend learns these in `fd_reify`, before it picks the timeout, and so
//! must we.
//!
//! ## Which batches share the enter with the wait (`epollwait`)
//! The kernel reports a failed `EPOLL_CTL` in a CQE, and a CQE does not end an enter that is
//! waiting for the `EPOLL_WAIT` of the same batch: a failure that must be handled before the
//! loop sleeps would wait for the iteration's timeout (up to 59.7 s without timers; found by
//! a differential test, now t_ctl_before_wait). So only a batch of re-registrations -- every
//! change an `EPOLL_CTL_ADD` with the mask the kernel already has (`ev_io_stop` + `ev_io_start`,
//! or `ev_io_set` to the same fd and mask: pgagroal's pattern, the churn benchmarks) -- goes
//! in one enter with the wait ([`probes_only`]): its ADD ends in EEXIST (registration kept,
//! old generation restored) or, if the fd was closed and reopened as another pollable file,
//! in a new registration, and neither needs anything before the wait. A batch with a new fd
//! (EPERM for a regular file, EBADF), a mask change (EEXIST or ENOENT: fix-up with
//! `epoll_ctl`) or a prune goes as the `epollctl` strategy does: one enter that waits for the
//! CTLs, the failures handled, then `epoll_wait` with the timeout re-checked. The remaining
//! limit: a re-registration of an fd that the application closed and left closed (EBADF) or
//! reopened as a regular file (EPERM) between stop and start is handled when that one wait
//! ends (the next timer or event).
//!
//! ## The in-flight wait hazard (`epollwait`)
//! An `EPOLL_WAIT` request still in flight when the iteration ends would harvest readiness
//! later, at an unknown time: while the application reads its (blocking) sockets outside the
//! loop, the request could consume an event for data the application has already read, and
//! the next iteration would deliver that stale readiness -- a blocking `read()` then hangs
//! (pgagroal uses blocking sockets, one read per callback). So a wait is always finished
//! before we look at any event or return: every request of the batch posts exactly one CQE,
//! and we keep entering until all of them are reaped ("all reaped" = "nothing in flight").
//!
//! How the wait is bounded and ordered after the CTLs (`EVRING_URING_EPW`, measured in
//! bench/uring/RESULTS.md with the io_uring tracepoints):
//! * `ext` (default): CTLs and EPOLL_WAIT unlinked, in SQ order; the enter waits for all
//!   their CQEs with the iteration's timeout as `EXT_ARG`. No links, no task work when the
//!   wait finds events at once. The CTLs are issued inline before the wait; should one be
//!   punted to io-wq (-EAGAIN: the epoll mutex was contended) its CQE comes after the
//!   wait's, and the wait's harvest is then discarded (level-triggered: nothing consumed;
//!   the loop's edge-triggered wakeup eventfd is rescanned, `PollOut::rescan`) and the next
//!   wait made non-blocking. When the timeout expires first, the wait is
//!   cancelled with `IORING_REGISTER_SYNC_CANCEL` and reaped (so an iteration ended by a
//!   timer costs 1 enter + 1 register, as `epollctl` costs 1 enter + 1 `epoll_wait`).
//! * `lt`: CTLs unlinked, `EPOLL_WAIT (LINK) → LINK_TIMEOUT`: one link step (one task-work
//!   pass) and an hrtimer per iteration.
//! * `link`: `CTL (HARDLINK) → … → EPOLL_WAIT (LINK) → LINK_TIMEOUT`: every link step is a
//!   task-work pass (11 per iteration for 10 changes); 1.5-2.5x slower than `ext`.
//!
//! Zero-timeout iterations with changes batch the CTLs, then call `epoll_wait`: an
//! unlinked EPOLL_WAIT that finds nothing is armed and needs a cancel (measured with
//! bench/src/bench_churn.c, 10 idle fds re-registered per `EVRUN_NOWAIT` iteration: 1 enter +
//! 1 register, 1.3-2x slower than 1 enter + 1 `epoll_wait`), and a 0 ns LINK_TIMEOUT can
//! cancel the wait before it has harvested (measured: an fd made ready by this very batch
//! was reported one iteration late).
//!
//! The `epollctl` strategy does not link its CTLs: they are issued inline, in order, and the
//! enter waits for all of their CQEs before `epoll_wait` runs, so even one punted to io-wq
//! (after -EAGAIN) is applied before the wait. The only same-fd pair a batch could hold (a
//! queued prune, then a real change) is merged in `modify`.
//!
//! `EPOLL_CTL` errors arrive as CQEs and are handled as the epoll backend handles them
//! synchronously (ENOENT on MOD → ADD; EEXIST on ADD → the kernel kept the OLD registration:
//! keep the old generation if the mask is right, else MOD; EPERM → always-ready list; EBADF
//! and others → `EV_ERROR`). A fix-up (the follow-up ADD or MOD) runs with plain `epoll_ctl`
//! before the wait: only batches of re-registrations share the enter with the wait, and
//! theirs never need one (see above). So the wait that follows reports the fixed-up fd's
//! level-triggered readiness itself; events of an old registration that lives on elsewhere
//! (a dup'd file), which carry the old generation, are dropped once without a rebuild
//! (`FIXED`). (Until the small-batch and mask-switch test t_io_mask_switch_wait, a fix-up
//! also made the next wait non-blocking, from a time when fix-ups could follow the wait:
//! ev_run(EVRUN_ONCE) then returned with nothing done where libev sleeps.)
//!
//! ## When the ring is made (`epollwait`, `EVRING_URING_RING_AFTER`)
//! The strategy runs on an epoll set; the ring only batches three or more changes with the
//! wait. Setting a ring up and tearing it down costs ~16 system calls and, measured with
//! bench/src/bench_fork.c, ~140 µs per short-lived process (pgagroal forks one per client
//! connection; its workers rarely change more than two fds per iteration). So a loop that
//! cannot take the process's spare ring (see [`SPARE`]) makes its ring only once batching
//! would have saved [`RING_AFTER`] system calls (k - 1 per batch of k changes); until then
//! its batches go out as plain `epoll_ctl` calls, exactly as the epoll backend does. The
//! loop is an io_uring loop all along (`ev_backend`); a ring that cannot be made then
//! (ENOMEM, EMFILE) sends it to the epoll backend at once, which `ev_backend` then reports.
//!
//! ## The ring fd
//! The ring is ours ([`ring::Ring`], not the io-uring crate's `IoUring`): its fd is moved to a
//! protected high number at creation and registered, and the creating thread enters with
//! `IORING_ENTER_REGISTERED_RING`, so the application closing or `dup2()`ing over the number
//! does not disturb the loop at all. Another thread (a loop moved between threads) enters
//! through the number; if that fails with EBADF/EOPNOTSUPP (the number no longer names an
//! io_uring), the loop rebuilds a ring and re-arms every watcher. Teardown closes the number
//! only while it still names our ring file (fstat identity, t_uring_ringfd).
//!
//! ## Fork
//! The ring mappings are `MADV_DONTFORK` (a child has no mapping at all), and the backend
//! remembers the process generation ([`crate::ffi::atfork`]) it was created in. In any other
//! process every call refuses to touch the ring or the shared epoll set: `modify` ignores the
//! change, `poll` returns at once asking for a rebuild (the loop then calls `fork`, which
//! builds a new ring and epoll set, and re-registers every fd), and `Drop` only closes the
//! descriptors (no munmap: the io-uring crate's `Drop` would unmap addresses that in the
//! child may hold unrelated mappings, and no unregister).

use super::epoll::{self, epoll_mask, event_mask};
use super::{Anfd, FdTable, Fds, Hooks, PollOut};
use crate::ffi::abi::{EV_READ, EV_WRITE};
use crate::ffi::atfork;
use crate::sys;
use core::ffi::{c_int, CStr};
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use io_uring::{opcode, squeue, types};
use ring::{RawSqe, Ring, ENTER_GETEVENTS as GETEVENTS, FEAT_EXT_ARG, FEAT_NODROP};

const RAW_ZERO: RawSqe = RawSqe {
    opcode: 0,
    flags: 0,
    ioprio: 0,
    fd: 0,
    off: 0,
    addr: 0,
    len: 0,
    op_flags: 0,
    user_data: 0,
    tail: [0; 3],
};
use std::sync::OnceLock;

mod ring;

/// Readiness strategy.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Poll,
    EpollCtl,
    EpollWait,
}

/// The measured winner (bench/uring/RESULTS.md); degrades to `EpollCtl` without
/// `IORING_OP_EPOLL_WAIT` (kernel < 6.15).
pub const DEFAULT_MODE: Mode = Mode::EpollWait;

/// Simulated setup failures (`EVRING_URING_FAIL`), for the fallback tests.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fail {
    /// `io_uring_setup` fails with this errno (ENOSYS, EPERM, ENOMEM, EINVAL at every rung).
    Errno(c_int),
    /// The ring builds but lacks the features we need (kernel < 5.11).
    Old,
}

pub fn parse_fail(v: &str) -> Option<Fail> {
    Some(match v {
        "enosys" => Fail::Errno(libc::ENOSYS),
        "eperm" => Fail::Errno(libc::EPERM),
        "enomem" => Fail::Errno(libc::ENOMEM),
        "einval" => Fail::Errno(libc::EINVAL),
        "old" => Fail::Old,
        _ => return None,
    })
}

pub fn parse_mode(v: &str) -> Option<Mode> {
    Some(match v {
        "poll" => Mode::Poll,
        "epollctl" => Mode::EpollCtl,
        "epollwait" => Mode::EpollWait,
        _ => return None,
    })
}

/// A private knob, ignored in set-user-ID/set-group-ID programs (glibc's `secure_getenv`
/// rule: `AT_SECURE`, no system call -- these are read at every loop creation).
fn env<R>(name: &CStr, f: impl FnOnce(&str) -> Option<R>) -> Option<R> {
    if sys::secure() {
        return None;
    }
    sys::env_with(name, |v| core::str::from_utf8(v).ok().and_then(f)).flatten()
}

fn fail_knob() -> Option<Fail> {
    env(c"EVRING_URING_FAIL", parse_fail)
}

fn mode_knob() -> Mode {
    env(c"EVRING_URING_MODE", parse_mode).unwrap_or(DEFAULT_MODE)
}

// ---------------------------------------------------------------------------- user_data

/// Completion tags. Poll requests carry `gen << 32 | fd`; the other kinds use low words no
/// fd can have (fds are < 2^31).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tag {
    Poll { fd: u32, gen: u32 },
    Ctl(u32),
    Wait,
    Timeout,
    Ignore,
}

const LOW_IGNORE: u32 = u32::MAX;
const LOW_WAIT: u32 = u32::MAX - 1;
const LOW_TIMEOUT: u32 = u32::MAX - 2;
const LOW_CTL: u32 = u32::MAX - 3;

pub const UD_IGNORE: u64 = u64::MAX;
pub const UD_WAIT: u64 = LOW_WAIT as u64;
pub const UD_TIMEOUT: u64 = LOW_TIMEOUT as u64;

pub const fn ud_poll(fd: u32, gen: u32) -> u64 {
    (gen as u64) << 32 | fd as u64
}

pub const fn ud_ctl(idx: u32) -> u64 {
    (idx as u64) << 32 | LOW_CTL as u64
}

pub fn decode(ud: u64) -> Tag {
    let low = ud as u32;
    let high = (ud >> 32) as u32;
    match low {
        LOW_IGNORE => Tag::Ignore,
        LOW_WAIT => Tag::Wait,
        LOW_TIMEOUT => Tag::Timeout,
        LOW_CTL => Tag::Ctl(high),
        fd if fd <= i32::MAX as u32 => Tag::Poll { fd, gen: high },
        _ => Tag::Ignore,
    }
}

// ---------------------------------------------------------------------------- eflags bits

// Bit 1 is `EPERM_LISTED` (epoll modes: the fd is on the always-ready list), shared with
// the epoll backend, as is the `EMASK_EPERM` emask value.

/// poll mode: a POLL_ADD with the fd's current generation is in the kernel.
const ARMED: u8 = 2;
/// poll mode: the fd is on the arm list.
const QUEUED: u8 = 4;
/// epoll modes: a synchronous fix-up changed the fd's registration after the wait saw it.
const FIXED: u8 = 8;
/// epoll modes: a prune (narrowing MOD/DEL) for the fd is in `changes`.
const PRUNE_QUEUED: u8 = 16;

// ---------------------------------------------------------------------------- ring setup

/// Ring sizes. Every pgagroal worker has its own loop, so the ring's memory counts per
/// process: 256 SQEs (16 KiB) and 1024 CQEs (16 KiB) keep a worker loop within 64 KiB of
/// libev's (1024/4096 cost about +144 KiB RSS per worker, measured by bench_rss). A full SQ
/// is flushed and submission continues; CQ overflow is kept by the kernel (FEAT_NODROP) and
/// reaped on the next enter, so the sizes bound batching, not correctness (t_uring_10k).
const SQ_ENTRIES: u32 = 256;
const CQ_ENTRIES: u32 = 1024;

/// Build a ring with a flag ladder: COOP_TASKRUN|TASKRUN_FLAG|SUBMIT_ALL (5.19) first, no
/// flags on EINVAL. Never SINGLE_ISSUER/DEFER_TASKRUN: a libev loop may move between threads.
/// The ring fd lives at a protected high number and is registered (see `ring`).
fn make_ring(sq: u32, cq: u32, fail: Option<Fail>) -> Result<Ring, c_int> {
    let mut last = libc::EINVAL;
    for level in 0..2 {
        if let Some(Fail::Errno(e)) = fail {
            if e == libc::EINVAL {
                continue;
            }
            return Err(e);
        }
        match Ring::new(sq, cq, level == 0, !under_valgrind()) {
            Ok(r) => return Ok(r),
            Err(e) => {
                last = e;
                if last != libc::EINVAL {
                    return Err(last);
                }
            }
        }
    }
    Err(last)
}

/// Valgrind does not model MADV_DONTFORK: in a forked child it still believes the parent's
/// ring mappings exist and aborts when the child maps its new ring at the same address. Under
/// valgrind the mappings are therefore inherited; the child still never uses them (the
/// process generation check above is what keeps it off the parent's ring).
fn under_valgrind() -> bool {
    sys::env_with(c"LD_PRELOAD", |v| v.windows(9).any(|w| w == b"vgpreload")).unwrap_or(false)
}

/// The opcodes the kernel offers, probed once per process (every ring of a kernel has the
/// same): `None` = io_uring unusable (features missing).
#[derive(Clone, Copy, Debug)]
struct Ops {
    ctl: bool,
    poll: bool,
    wait: bool,
}

static OPS: OnceLock<Option<Ops>> = OnceLock::new();

fn probe_ops(ring: &Ring) -> Option<Ops> {
    let f = ring.features();
    if f & FEAT_NODROP == 0 || f & FEAT_EXT_ARG == 0 {
        return None;
    }
    let ops = [
        opcode::EpollCtl::CODE,
        opcode::PollAdd::CODE,
        opcode::PollRemove::CODE,
        opcode::EpollWait::CODE,
        opcode::LinkTimeout::CODE,
    ];
    let got = ring.probe(&ops)?;
    let has = |c: u8| ops.iter().position(|&o| o == c).is_some_and(|i| got[i]);
    let has_ctl = has(opcode::EpollCtl::CODE);
    let has_poll = has(opcode::PollAdd::CODE) && has(opcode::PollRemove::CODE);
    let has_wait = has_ctl && has(opcode::EpollWait::CODE) && has(opcode::LinkTimeout::CODE);
    Some(Ops {
        ctl: has_ctl,
        poll: has_poll,
        wait: has_wait,
    })
}

/// What the kernel supports for `want`: `None` = io_uring unusable (use epoll), else the
/// mode we can run (`epollwait` degrades to `epollctl` before 6.15).
fn pick(ops: Option<Ops>, want: Mode, fail: Option<Fail>) -> Option<Mode> {
    if fail == Some(Fail::Old) {
        return None;
    }
    let ops = ops?;
    match want {
        Mode::Poll if ops.poll => Some(Mode::Poll),
        Mode::EpollWait if ops.wait => Some(Mode::EpollWait),
        Mode::EpollWait | Mode::EpollCtl if ops.ctl => Some(Mode::EpollCtl),
        _ => None,
    }
}

/// The ring made by the availability probe, kept for the first loop: closing a ring that
/// this task used queues kernel task work with TWA_SIGNAL (io_ring_exit_work), which makes
/// the next blocking syscall of the task -- our epoll_wait -- fail with a spurious EINTR.
struct Spare {
    ring: Ring,
    forkgen: u64,
}
/// A pointer from `Box::into_raw`, or null; taken with one atomic swap. Not a mutex: a child
/// forked while another thread held a lock would deadlock in its first `ev_loop_new`.
static SPARE: AtomicPtr<Spare> = AtomicPtr::new(core::ptr::null_mut());

/// Whether this process can run the io_uring backend (probed once).
pub fn available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        atfork::ensure_registered();
        let fail = fail_knob();
        match make_ring(SQ_ENTRIES, CQ_ENTRIES, fail) {
            Ok(mut ring) => {
                let ops = *OPS.get_or_init(|| probe_ops(&ring));
                ring.set_aside();
                let ok = pick(ops, mode_knob(), fail).is_some();
                if ok {
                    let forkgen = atfork::generation();
                    let p = Box::into_raw(Box::new(Spare { ring, forkgen }));
                    // Only this (one-time) initialiser stores; a non-null old value cannot be.
                    SPARE.store(p, Ordering::Release);
                } else {
                    // Unusable (kernel too old): keep it open anyway, as closing it would
                    // interrupt the epoll backend's first wait with a spurious EINTR (see
                    // SPARE). One descriptor for the life of the process.
                    core::mem::forget(ring);
                }
                ok
            }
            Err(_) => false,
        }
    })
}

/// The probe's ring if it is still unused and belongs to this process.
fn take_spare() -> Option<Ring> {
    // A load first: the swap is a write even when the slot is empty (it is, in every
    // process but the first), and a write to this page costs a forked child that creates a
    // loop a copy-on-write page fault.
    if SPARE.load(Ordering::Relaxed).is_null() {
        return None;
    }
    let p = SPARE.swap(core::ptr::null_mut(), Ordering::AcqRel);
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` came from `Box::into_raw` in `available`, and the swap made us its only
    // owner.
    let mut spare = unsafe { Box::from_raw(p) };
    if spare.forkgen == atfork::generation() {
        let mut ring = spare.ring;
        ring.adopt();
        return Some(ring);
    }
    // Inherited from the parent: not mapped here (MADV_DONTFORK); just close the fd (if the
    // number still names it).
    spare.ring.release(false);
    None
}

/// Close the probe's spare ring to free its descriptor for something that needs one more
/// (a loop's wakeup fd when the process is out of descriptors, EMFILE: differential hunt, a
/// default loop could not be made with two free fds where libev's needs two). Returns
/// whether a descriptor was freed.
pub fn drop_spare() -> bool {
    let p = SPARE.swap(core::ptr::null_mut(), Ordering::AcqRel);
    if p.is_null() {
        return false;
    }
    // SAFETY: as in `take_spare`.
    let mut spare = unsafe { Box::from_raw(p) };
    if spare.forkgen == atfork::generation() {
        spare.ring.release(true);
        // The teardown interrupts this thread's next wait once (see SPARE).
        note_ring_closed();
    } else {
        spare.ring.release(false);
    }
    true
}

// ---------------------------------------------------------------------------- backend

/// One queued `epoll_ctl` (epoll modes).
#[derive(Clone, Copy, Debug)]
/// 16 bytes on x86_64 (the kernel's packed epoll_event + four bytes): queued once per interest
/// change, so its size shows in the per-change cost.
struct Change {
    /// What the kernel reads for this change (an `EPOLL_CTL` SQE points here): the mask in
    /// epoll's terms, and `gen << 32 | fd` as the event data (`gen`: generation of the
    /// registration). Kept in the record itself, so queueing a batch needs no second pass
    /// to build the events.
    ev: libc::epoll_event,
    /// EPOLL_CTL_ADD / _MOD / _DEL (1..3).
    op: u8,
    mask: u8,
    /// Kernel mask before this change (for the EEXIST rule).
    oldmask: u8,
    /// Narrowing of a too-wide lazy registration found by the wait (no generation change).
    prune: bool,
}

impl Change {
    #[inline]
    fn new(fd: c_int, gen: u32, op: c_int, mask: u8, oldmask: u8, prune: bool) -> Change {
        Change {
            ev: libc::epoll_event {
                events: epoll_mask(mask),
                u64: fd as u32 as u64 | (gen as u64) << 32,
            },
            op: op as u8,
            mask,
            oldmask,
            prune,
        }
    }

    #[inline]
    fn data(&self) -> u64 {
        self.ev.u64
    }

    #[inline]
    fn fd(&self) -> c_int {
        self.ev.u64 as u32 as c_int
    }

    #[inline]
    fn op(&self) -> c_int {
        self.op as c_int
    }
}

pub struct Uring {
    ring: LazyRing,
    /// `changes` may hold a prune (its fd's PRUNE_QUEUED flag must be cleared when the batch
    /// goes out); false: no pass over the batch for it.
    prunes_queued: bool,
    /// System calls that batching would have saved so far while there is no ring (see
    /// "When the ring is made" above).
    credit: u32,
    mode: Mode,
    /// [`atfork::generation`] when the ring was made.
    forkgen: u64,
    pid: c_int,
    /// epoll instance (epoll modes), else -1.
    epfd: c_int,
    changes: Vec<Change>,
    events: Vec<libc::epoll_event>,
    eperms: Vec<c_int>,
    fixed: Vec<c_int>,
    /// poll mode: fds to (re)arm at the next submit.
    arm: Vec<c_int>,
    cqes: Vec<(u64, i32)>,
    /// [`Uring::reap_batch`]: failed CTL completions, handled after the reap.
    failed: Vec<(u64, i32)>,
    nonblock_next: bool,
    /// Readiness may have been taken from the kernel unreported (a discarded or abandoned
    /// `EPOLL_WAIT` harvest, an `epfd_gone` probe): reported as [`PollOut::rescan`], since the
    /// loop's wakeup eventfd is registered edge-triggered ([`super::EDGE`]) and its edge
    /// would not come again.
    edges_lost: bool,
    /// epollwait: CTL completions still expected in the current batch, and whether the
    /// wait completed before all of them.
    ctl_left: u32,
    wait_late: bool,
    /// Unit tests only: issue the CTLs of the `ext` batch through io-wq.
    test_async_ctl: bool,
    /// Our epoll fd number no longer names our epoll instance (the application closed it):
    /// never close that number; rebuild.
    epfd_lost: bool,
    /// (st_dev, st_ino) of the epoll file: Drop closes the number only while it names it.
    epfd_id: Option<(u64, u64)>,
    /// Entering through the ring's fd number failed because the number no longer names our
    /// ring (only possible on a thread that has no registered index for it): rebuild a ring.
    ring_lost: bool,
    /// A run-time failure: the loop should switch to epoll at the next rebuild.
    pub broken: bool,
    /// `modify` calls of the current `fd_reify` pass still to be applied at once, as the
    /// epoll backend applies them ([`Uring::reify_begin`]).
    direct_left: usize,
    /// [`small_batch`], read once.
    small: usize,
}

const EV_ZERO: libc::epoll_event = libc::epoll_event { events: 0, u64: 0 };

/// Set when this process closed one of its rings: the kernel then queues task work with
/// TWA_SIGNAL to every task that used it, so the next blocking wait of such a task fails
/// with EINTR although no signal arrived (possibly several times: the exit work retries).
/// An EINTR within [`RING_CLOSE_WINDOW`] seconds of such a close, in the thread that closed
/// it, resumes the wait instead of ending the iteration ([`eintr_from_ring_close`]). That is
/// safe for libev's own signal handling, which always wakes the loop through an fd
/// (eventfd/pipe or signalfd) that the wait watches; a signal caught by a plain handler in
/// that thread then ends the wait only at its next event (README "Differences").
static RING_CLOSED_AT: AtomicU64 = AtomicU64::new(0);
const RING_CLOSE_WINDOW: f64 = 1.0;

std::thread_local! {
    /// When this thread last closed one of its rings (bits of a monotonic time; 0 = never).
    static THREAD_RING_CLOSED_AT: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

fn note_ring_closed() {
    let now = sys::monotonic().to_bits();
    RING_CLOSED_AT.store(now, Ordering::Relaxed);
    THREAD_RING_CLOSED_AT.with(|t| t.set(now));
}

/// Is an EINTR (probably) the teardown notification of a ring this thread closed? Only the
/// closing thread resumes (it is the one that used the ring in all but unusual programs):
/// in other threads an EINTR ends the wait, so a signal caught by a plain handler there is
/// never held back (found by review). Another thread that used the closed ring may then see
/// one early wake-up, which libev's semantics allow.
fn eintr_from_ring_close() -> bool {
    let at = RING_CLOSED_AT.load(Ordering::Relaxed);
    if at == 0 {
        return false;
    }
    let mine = THREAD_RING_CLOSED_AT.with(|t| t.get());
    mine != 0 && sys::monotonic() - f64::from_bits(mine) < RING_CLOSE_WINDOW
}

/// The deadline of a blocking wait of `timeout` seconds counted from `since` (the loop's
/// `mn_now`, [`PollOut::since`]; `-inf`: not known, the clock is read), for resuming it after
/// an EINTR that [`eintr_from_ring_close`] explains. Only needed within [`RING_CLOSE_WINDOW`]
/// of a ring close: otherwise none (`-inf`). No clock read when the caller knows `since`:
/// the loop read the clock just before it picked the timeout, and a deadline taken from that
/// reading is at most the loop's own overhead early (an early wake-up, which libev's
/// semantics allow, never a late one). Reading the clock here before every wait cost ~40
/// instructions per wait for a second after each ring close (callgrind, bench_wakeup, whose
/// warm-up destroys its loops). The first deadline asked for after the window forgets the
/// close (unless a newer one was noted meanwhile). The ring paths ask before each wait, so a
/// process that once closed a ring does not pay this for the rest of its life there; the
/// plain `epoll_wait` path asks only after an EINTR ([`Uring::epoll_wait`]), and reads the
/// flag before a wait only when it does not know `since` (never under `ev_run`). Should
/// another thread close a ring while we wait, the resumed wait is non-blocking (an early
/// wake-up, as a plain EINTR gives).
#[inline]
fn resume_deadline(timeout: f64, since: f64) -> f64 {
    let at = RING_CLOSED_AT.load(Ordering::Relaxed);
    if timeout > 0.0 && at != 0 {
        let now = if since == f64::NEG_INFINITY {
            sys::monotonic()
        } else {
            since
        };
        if now - f64::from_bits(at) > RING_CLOSE_WINDOW {
            // No EINTR can be explained by that close any more (`eintr_from_ring_close`
            // compares with a time no later than `at`; `since` is no later than the clock).
            let _ = RING_CLOSED_AT.compare_exchange(at, 0, Ordering::Relaxed, Ordering::Relaxed);
        }
        now + timeout
    } else {
        f64::NEG_INFINITY
    }
}

fn epoll_create() -> c_int {
    // SAFETY: no pointers involved.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    sys::protect_fd(fd)
}

/// The ring of an `epollwait` backend is made when batching starts to pay (see "When the
/// ring is made"); the other strategies make it with the backend. Derefs to the ring: only
/// the batch paths use it, and they make sure it exists first.
struct LazyRing(Option<Ring>);

impl core::ops::Deref for LazyRing {
    type Target = Ring;
    #[inline]
    fn deref(&self) -> &Ring {
        match &self.0 {
            Some(r) => r,
            None => no_ring(),
        }
    }
}

impl core::ops::DerefMut for LazyRing {
    #[inline]
    fn deref_mut(&mut self) -> &mut Ring {
        match &mut self.0 {
            Some(r) => r,
            None => no_ring(),
        }
    }
}

#[cold]
#[inline(never)]
fn no_ring() -> ! {
    // An internal invariant (the batch paths call `ring_ready` first): fail loudly.
    panic!("evring: io_uring backend used its ring before making it")
}

/// Default of [`ring_after`]: ring set-up + teardown cost about as much as this many
/// `epoll_ctl` calls (bench_fork: ~140 µs per process with a ring; ~2 µs per syscall here).
const RING_AFTER: u32 = 64;

/// System calls batching must have been able to save before a loop without the spare ring
/// makes its own (knob `EVRING_URING_RING_AFTER`; 0 = make it with the loop, as the tests
/// that examine ring fds need).
fn ring_after() -> u32 {
    env(c"EVRING_URING_RING_AFTER", |v| v.parse().ok()).unwrap_or(RING_AFTER)
}

impl Uring {
    /// Set up a backend for the strategy chosen by the environment; `None` = use epoll.
    pub fn new() -> Option<Uring> {
        if !available() {
            return None;
        }
        Self::build(mode_knob(), true)
    }

    /// `lazy`: an `epollwait` backend without the spare ring makes its ring later (see "When
    /// the ring is made"); otherwise the ring is made now.
    fn build(want: Mode, lazy: bool) -> Option<Uring> {
        if !available() {
            return None;
        }
        atfork::ensure_registered();
        let fail = fail_knob();
        let mode = pick(*OPS.get()?, want, fail)?;
        let ring = match take_spare() {
            Some(r) => Some(r),
            None if lazy && mode == Mode::EpollWait && ring_after() > 0 => None,
            None => Some(make_ring(SQ_ENTRIES, CQ_ENTRIES, fail).ok()?),
        };
        let epfd = if mode == Mode::Poll {
            -1
        } else {
            let fd = epoll_create();
            if fd < 0 {
                return None;
            }
            fd
        };
        // Only Drop reads it, and only when there is a ring (a real getpid: a child made
        // without libc's fork would not change the fork generation).
        let pid = if ring.is_some() { sys::getpid() } else { 0 };
        Some(Uring {
            ring: LazyRing(ring),
            prunes_queued: false,
            credit: 0,
            epfd_id: if epfd >= 0 { ring::file_id(epfd) } else { None },
            ring_lost: false,
            mode,
            forkgen: atfork::generation(),
            pid,
            epfd,
            changes: Vec::new(),
            events: vec![EV_ZERO; 64],
            eperms: Vec::new(),
            fixed: Vec::new(),
            arm: Vec::new(),
            cqes: Vec::new(),
            failed: Vec::new(),
            nonblock_next: false,
            edges_lost: false,
            ctl_left: 0,
            wait_late: false,
            test_async_ctl: false,
            epfd_lost: false,
            broken: false,
            direct_left: 0,
            small: small_batch(),
        })
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Give the ring's descriptor back when the process is out of descriptors (EMFILE) and
    /// the loop needs one for something it cannot do without (its wakeup fd); `epollwait`
    /// only, where the ring just batches changes and is made again lazily (see "When the
    /// ring is made"). Between iterations nothing is in flight. Returns whether a descriptor
    /// was freed.
    pub fn shed_ring(&mut self) -> bool {
        if self.mode != Mode::EpollWait || self.foreign() {
            return false;
        }
        let Some(mut ring) = self.ring.0.take() else {
            return false;
        };
        ring.release(true);
        note_ring_closed();
        self.credit = 0;
        self.pid = 0;
        true
    }

    pub fn fd(&self) -> c_int {
        if self.epfd >= 0 {
            self.epfd
        } else {
            self.ring.fd()
        }
    }

    /// True when this object belongs to another process (we are a forked child).
    #[inline]
    fn foreign(&self) -> bool {
        self.forkgen != atfork::generation()
    }

    /// Replace ring and epoll set (fork, interference, ring trouble). Returns false when no
    /// new ring can be made: the caller switches to the epoll backend.
    pub fn recreate(&mut self) -> bool {
        if self.broken {
            return false;
        }
        let Some(new) = Self::build(self.mode, true) else {
            return false;
        };
        // Dropping `self` releases (or, in a child, just closes) the old objects.
        *self = new;
        true
    }

    // ------------------------------------------------------------------ modify

    /// `fd_reify` is about to apply the changes of `n` fds. A small batch (at most
    /// [`small_batch`]) with nothing queued before it is applied at once, change by change,
    /// exactly as the epoll backend does (and as it would go out anyway: small batches are
    /// plain `epoll_ctl` calls). Recording each change and applying the list when the loop
    /// polls cost ~140 instructions per iteration more for one change (callgrind, bench_churn
    /// -k 1: 663 against 521 for the epoll backend, libev 592); pgagroal's workers change one
    /// or two fds per protocol message. A larger batch is recorded, to go out as one ring
    /// submission with the wait.
    #[inline]
    pub fn reify_begin(&mut self, n: usize) {
        // (The poll strategy never gets here: `modify` sends it elsewhere first. A lost epoll
        // fd number may name another file by now: nothing goes to it before the rebuild.)
        self.direct_left = if (n <= self.small) & self.changes.is_empty() & !self.epfd_lost {
            n
        } else {
            0
        };
    }

    pub fn modify(&mut self, anfds: &mut FdTable, fd: c_int, oev: u8, nev: u8, out: &mut PollOut) {
        if self.foreign() {
            // Forked child: never touch the parent's ring or epoll set. `poll` will ask the
            // loop for a rebuild, which re-registers every fd from the loop's own state.
            return;
        }
        if self.mode == Mode::Poll {
            return self.modify_poll_outlined(anfds, fd, nev);
        }
        if nev == 0 {
            // Lazy, as the epoll backend: no EPOLL_CTL_DEL for a stop.
            return;
        }
        if self.direct_left != 0 {
            self.direct_left -= 1;
            return self.modify_direct(anfds, fd, oev, nev, out);
        }
        let a = &mut anfds[fd as usize];
        if a.eflags & PRUNE_QUEUED != 0 {
            // A narrowing of this fd is queued: this change supersedes it.
            a.eflags &= !PRUNE_QUEUED;
            return self.modify_after_prune(anfds, fd, oev, nev, out);
        }
        let (op, oldmask) = epoll::next_registration(a, oev, nev);
        let ch = Change::new(fd, a.egen, op, nev, oldmask, false);
        // The append with its growth out of line and last: the common path then keeps no
        // values across a call (no saved registers; the inlined poll strategy and the
        // growth call cost ~20 instructions per change).
        let len = self.changes.len();
        if len < self.changes.capacity() {
            // SAFETY: `len < capacity`: the slot is allocated and unused.
            unsafe {
                self.changes.as_mut_ptr().add(len).write(ch);
                self.changes.set_len(len + 1);
            }
        } else {
            self.push_change_slow(ch);
        }
    }

    /// One change of a small batch, applied at once with `epoll_ctl`, as the epoll backend's
    /// `modify` applies it (failures: [`Uring::modify_direct_failed`]).
    /// Runs in `fd_reify`, before the loop picks its timeout: a rejected fd's watchers are
    /// killed and the wait made non-blocking there, as with the epoll backend.
    fn modify_direct(
        &mut self,
        anfds: &mut FdTable,
        fd: c_int,
        oev: u8,
        nev: u8,
        out: &mut PollOut,
    ) {
        // (No narrowing can be queued: `reify_begin` saw no recorded change.)
        if let Err((err, oldmask)) = epoll::apply(self.epfd, anfds, fd, oev, nev) {
            self.modify_direct_failed(anfds, fd, nev, oldmask, err, out);
        }
    }

    /// A change of [`Uring::modify_direct`] failed with `err`: the epoll backend's rules,
    /// applied before any wait (so a fix-up registration needs no `mark_fixed`: no wait has
    /// seen the fd's old registration in this iteration).
    #[cold]
    #[inline(never)]
    fn modify_direct_failed(
        &mut self,
        anfds: &mut FdTable,
        fd: c_int,
        nev: u8,
        oldmask: u8,
        err: c_int,
        out: &mut PollOut,
    ) {
        if matches!(err, libc::EBADF | libc::EINVAL) && self.epfd_gone() {
            // Our epoll fd, not the application's fd, is what failed: nothing more goes to
            // that number; `poll` rebuilds the set (which re-registers every fd).
            self.epfd_lost = true;
            self.direct_left = 0;
            return;
        }
        if self.edges_lost {
            // `epfd_gone`'s probe took readiness unreported: `poll`'s general path reports
            // the rescan, and a non-blocking wait gets there.
            self.nonblock_next = true;
        }
        epoll::recover_applied(
            self.epfd,
            anfds,
            &mut self.eperms,
            err,
            fd,
            oldmask,
            nev,
            out,
        );
    }

    #[cold]
    #[inline(never)]
    fn push_change_slow(&mut self, ch: Change) {
        self.changes.push(ch);
    }

    /// [`Uring::modify`] for the poll strategy (a measurement knob, not the default).
    #[inline(never)]
    fn modify_poll_outlined(&mut self, anfds: &mut FdTable, fd: c_int, nev: u8) {
        self.modify_poll(anfds, fd, nev);
    }

    /// [`Uring::modify`] after dropping the queued narrowing of `fd` (rare).
    #[cold]
    #[inline(never)]
    fn modify_after_prune(
        &mut self,
        anfds: &mut FdTable,
        fd: c_int,
        oev: u8,
        nev: u8,
        out: &mut PollOut,
    ) {
        self.drop_queued_prune(fd);
        self.modify(anfds, fd, oev, nev, out);
    }

    #[cold]
    #[inline(never)]
    fn drop_queued_prune(&mut self, fd: c_int) {
        self.changes.retain(|c| !(c.prune && c.fd() == fd));
    }

    fn modify_poll(&mut self, anfds: &mut FdTable, fd: c_int, nev: u8) {
        let a = &mut anfds[fd as usize];
        if a.eflags & ARMED != 0 {
            a.eflags &= !ARMED;
            let rm = opcode::PollRemove::new(ud_poll(fd as u32, a.egen))
                .build()
                .user_data(UD_IGNORE);
            a.egen = a.egen.wrapping_add(1);
            a.emask = 0;
            self.push(&rm);
        } else {
            a.egen = a.egen.wrapping_add(1);
        }
        if nev != 0 {
            queue_arm(&mut self.arm, anfds, fd);
        }
    }

    /// `ev_io_stop` removed the fd's last watcher. Poll strategy: an armed POLL_ADD holds a
    /// reference to the file, so cancel it synchronously (IORING_REGISTER_SYNC_CANCEL, 6.0+:
    /// no SQ/CQ access, so this is safe even while another thread waits in `poll` under
    /// libev's release/acquire hooks). The cancelled request's CQE carries the old generation
    /// and is dropped. Never in a forked child: those requests are the parent's.
    #[inline]
    pub fn fd_released(&self, anfds: &mut FdTable, fd: c_int) {
        // Inline check (every `ev_io_stop` of a last watcher passes here), body out of line.
        if self.mode == Mode::Poll {
            self.fd_released_poll(anfds, fd);
        }
    }

    #[cold]
    #[inline(never)]
    fn fd_released_poll(&self, anfds: &mut FdTable, fd: c_int) {
        if self.foreign() {
            return;
        }
        let Some(a) = anfds.get_mut(fd as usize) else {
            return;
        };
        if a.eflags & ARMED == 0 {
            return;
        }
        let ud = ud_poll(fd as u32, a.egen);
        a.eflags &= !ARMED;
        a.egen = a.egen.wrapping_add(1);
        a.emask = 0;
        // The loop's change list already holds the fd (ev_io_stop queued it): make sure a
        // restart with the same mask in this iteration still reaches `modify` to re-arm.
        a.reify |= crate::ffi::abi::EV__IOFDSET as u8;
        // ENOENT: it completed meanwhile (its CQE is stale now); other errors (kernel < 6.0):
        // the removal stays lazy, as in libev.
        let _ = self.ring.sync_cancel(ud);
    }

    /// Queue an SQE; when the SQ is full, hand the queued ones to the kernel first.
    fn push(&mut self, e: &squeue::Entry) {
        loop {
            // Our SQEs reference no user memory except epoll_event buffers that live in
            // `self` and stay put until their completions are reaped.
            if self.ring.push(e) {
                return;
            }
            let r = self.ring.submit();
            if r < 0 {
                match -r {
                    libc::EINTR | libc::EAGAIN | libc::EBUSY => self.drain_cq_into_buffer(),
                    err => {
                        self.enter_failed(err);
                        return;
                    }
                }
            }
        }
    }

    /// [`Uring::push`] for a raw SQE (the hot paths: no builder).
    #[inline]
    fn push_raw(&mut self, e: RawSqe) {
        while self.ring.sq_space() == 0 {
            let r = self.ring.submit();
            if r < 0 {
                match -r {
                    libc::EINTR | libc::EAGAIN | libc::EBUSY => self.drain_cq_into_buffer(),
                    err => {
                        self.enter_failed(err);
                        return;
                    }
                }
            }
        }
        self.ring.push_raw(e);
    }

    /// Queue the EPOLL_CTLs of `changes[from..]` that fit into the SQ while leaving room for
    /// `extra` more SQEs (the wait), in one pass with one tail publication (SQE fields
    /// written directly: the crate's builders cost ~20 instructions per SQE more). Returns
    /// how many were queued.
    fn queue_ctls(&mut self, changes: &[Change], from: usize, extra: usize, flags: u8) -> usize {
        let room = (self.ring.sq_space() as usize).saturating_sub(extra);
        let n = room.min(changes.len() - from);
        let epfd = self.epfd;
        for (j, c) in changes[from..from + n].iter().enumerate() {
            let i = from + j;
            // SAFETY: `n` slots are free (checked above); the event lives in the batch's
            // change list, which the caller keeps unmoved and unchanged until every CTL of the
            // batch is reaped.
            unsafe {
                self.ring.write_unpublished(RawSqe {
                    opcode: opcode::EpollCtl::CODE,
                    flags,
                    fd: epfd,
                    off: c.fd() as u64,
                    addr: core::ptr::addr_of!(c.ev) as u64,
                    len: c.op as u32,
                    user_data: ud_ctl(i as u32),
                    ..RAW_ZERO
                })
            };
        }
        self.ring.publish();
        n
    }

    /// The ring fd number no longer names our ring (closed, or another file put there):
    /// entering through it fails before anything is submitted. Only a thread without the
    /// registered index enters through the number.
    fn ring_number_gone(&self, err: c_int) -> bool {
        matches!(err, libc::EBADF | libc::EOPNOTSUPP) && !self.ring.registered_here()
    }

    /// A failed enter: a lost ring number is rebuilt on io_uring, anything else sends the
    /// loop to epoll.
    fn enter_failed(&mut self, err: c_int) {
        if self.ring_number_gone(err) {
            self.ring_lost = true;
        } else {
            self.broken = true;
        }
    }

    /// Move every available CQE into `self.cqes` (overflowed ones too).
    fn drain_cq_into_buffer(&mut self) {
        loop {
            let cqes = &mut self.cqes;
            self.ring.reap(|ud, res| cqes.push((ud, res)));
            if !self.ring.cq_overflow() {
                return;
            }
            // NODROP backlog: an enter with GETEVENTS moves it into the (now empty) CQ.
            let r = self.ring.enter(0, 0, GETEVENTS, None);
            if r < 0 && !matches!(-r, libc::EINTR | libc::EBUSY | libc::EAGAIN) {
                self.enter_failed(-r);
                return;
            }
        }
    }

    // ------------------------------------------------------------------ poll

    #[inline]
    pub fn poll(&mut self, fds: Fds, timeout: f64, out: &mut PollOut, hooks: &Hooks) {
        // The common iteration first: epollwait/epollctl, no interest change, nothing rare
        // pending. It is `epoll_wait` and the delivery, as in the epoll backend; everything
        // else is out of line, so this path saves and restores few registers (measured with
        // callgrind, bench_loop -m entry: ~20 instructions per `ev_run` less than going
        // through the general path). Non-short-circuit `|`/`&`: one branch for all the tests.
        // (Changes first and short-circuit: an iteration with changes takes one branch.)
        // The fork check uses the generation `ev_run` just read (`PollOut::gen`); a
        // mismatch, or a caller that did not set it, goes through `poll_general`, which
        // reads the generation itself.
        if self.changes.is_empty()
            && !(self.broken | self.ring_lost | self.epfd_lost | self.nonblock_next)
                & self.eperms.is_empty()
                & (self.mode != Mode::Poll)
                & (self.forkgen == out.gen)
        {
            let n = self.epoll_wait_hooked(timeout, out.since, hooks);
            // SAFETY: after `acquire`: this thread owns the loop again (`Fds::get`).
            self.deliver(unsafe { fds.get() }, n, out);
            if self.epfd_lost {
                out.rebuild = true;
            }
            return;
        }
        self.poll_general(fds, timeout, out, hooks);
        if self.edges_lost {
            self.edges_lost = false;
            out.rescan = true;
        }
    }

    /// [`Uring::poll`] with recorded changes to apply or a rare state. (Small batches are
    /// applied in `fd_reify`, see [`Uring::reify_begin`]; the few recorded ones, behind a
    /// queued narrowing, go out here as plain `epoll_ctl` calls.)
    #[inline(never)]
    fn poll_general(&mut self, fds: Fds, timeout: f64, out: &mut PollOut, hooks: &Hooks) {
        // Non-short-circuit `|`: one branch for the three rare states.
        if self.foreign() | self.broken | self.ring_lost | sys_pid_changed(self.pid) {
            self.poll_refused(out);
            return;
        }
        if self.mode == Mode::Poll {
            self.poll_poll(fds, timeout, out, hooks);
        } else {
            self.poll_epoll(fds, timeout, out, hooks);
        }
        if self.broken | self.epfd_lost | self.ring_lost {
            out.rebuild = true;
        }
    }

    /// A forked child (with or without ev_loop_fork), or a ring that failed: rebuild before
    /// any use of the kernel objects.
    #[cold]
    #[inline(never)]
    fn poll_refused(&mut self, out: &mut PollOut) {
        if self.foreign() {
            self.changes.clear();
            self.arm.clear();
        }
        out.rebuild = true;
    }

    fn poll_poll(&mut self, fds: Fds, timeout: f64, out: &mut PollOut, hooks: &Hooks) {
        // SAFETY: before `release`: this thread owns the loop (`Fds::get`).
        let anfds = unsafe { fds.get() };
        let arm = core::mem::take(&mut self.arm);
        for &fd in &arm {
            let Some(a) = anfds.get_mut(fd as usize) else {
                continue;
            };
            a.eflags &= !QUEUED;
            if a.events == 0 || a.eflags & ARMED != 0 {
                continue;
            }
            a.eflags |= ARMED;
            a.emask = a.events;
            let e = opcode::PollAdd::new(types::Fd(fd), poll_mask(a.events))
                .build()
                .user_data(ud_poll(fd as u32, a.egen));
            self.push(&e);
        }
        let mut arm = arm;
        arm.clear();
        self.arm = arm;

        let deadline = resume_deadline(timeout, out.since);
        let mut timeout = timeout;
        let mut failed = 0;
        hooks.release();
        loop {
            let to_submit = self.ring.sq_len();
            let r = if timeout > 0.0 && self.cqes.is_empty() {
                self.ring
                    .enter(to_submit, 1, GETEVENTS, Some(timeout_ns(timeout)))
            } else {
                self.ring.enter(to_submit, 0, GETEVENTS, None)
            };
            match if r < 0 { -r } else { 0 } {
                0 | libc::ETIME | libc::EBUSY | libc::EAGAIN => break,
                libc::EINTR => {
                    if !eintr_from_ring_close() || timeout <= 0.0 || !self.ring.cq_is_empty() {
                        break;
                    }
                    timeout = (deadline - sys::monotonic()).max(0.0);
                }
                err => {
                    failed = err;
                    break;
                }
            }
        }
        hooks.acquire();
        if failed != 0 {
            self.enter_failed(failed);
            return;
        }
        self.drain_cq_into_buffer();
        // SAFETY: after `acquire`: this thread owns the loop again (`Fds::get`).
        let anfds = unsafe { fds.get() };
        let cqes = core::mem::take(&mut self.cqes);
        for &(ud, res) in &cqes {
            let Tag::Poll { fd, gen } = decode(ud) else {
                continue;
            };
            let Some(a) = anfds.get_mut(fd as usize) else {
                continue;
            };
            if gen != a.egen || a.eflags & ARMED == 0 {
                continue; // stale: stopped, changed, or fd reused since
            }
            a.eflags &= !ARMED;
            let fd = fd as c_int;
            if res == -libc::ECANCELED {
                // The submitting thread exited (or the ring was cancelled): re-arm.
                queue_arm(&mut self.arm, anfds, fd);
            } else if res < 0 {
                // EBADF (closed fd), EINVAL (unpollable): stop with EV_ERROR.
                anfds[fd as usize].emask = 0;
                out.kill.push(fd);
            } else {
                out.ready.push((fd, poll_event_mask(res as u32) as i32));
                queue_arm(&mut self.arm, anfds, fd);
            }
        }
        let mut cqes = cqes;
        cqes.clear();
        self.cqes = cqes;
    }

    fn poll_epoll(&mut self, fds: Fds, mut timeout: f64, out: &mut PollOut, hooks: &Hooks) {
        if (!self.eperms.is_empty()) | self.nonblock_next {
            timeout = 0.0;
        }
        self.nonblock_next = false;
        let k = self.changes.len();
        let n = if k == 0 {
            self.epoll_wait_hooked(timeout, out.since, hooks)
        } else if k <= small_batch() || !self.ring_ready(k) {
            // Few changes: plain epoll_ctl calls are cheaper than a ring round trip
            // (bench/uring/RESULTS.md, "small batches"); more, while the loop has no ring
            // yet, also go out this way.
            // SAFETY: before `release`: this thread owns the loop (`Fds::get`).
            self.ctl_plain(unsafe { fds.get() }, out);
            if self.ctl_made_work(out) {
                timeout = 0.0;
            }
            self.epoll_wait_hooked(timeout, out.since, hooks)
        } else if self.mode == Mode::EpollWait && timeout > 0.0 && probes_only(&self.changes) {
            // One enter for the changes and the wait, only for a batch whose CTLs can fail
            // only if the application closed an fd after we registered it (see "Which
            // batches share the enter with the wait" above).
            if wait_variant() != WaitVariant::Linked {
                self.ctl_and_wait_ext(fds, timeout, out, hooks)
            } else {
                // Not for a zero timeout: a 0 ns LINK_TIMEOUT can cancel the wait before it
                // has harvested fds that are ready (measured: an fd made ready by this very
                // batch was reported one iteration late), so non-blocking iterations use
                // epoll_wait.
                self.ctl_and_wait(fds, Some(timeout), out, hooks)
            }
        } else {
            self.ctl_and_wait(fds, None, out, &Hooks::NONE);
            if self.broken || self.ring_lost {
                // The changes never reached the epoll set: do not sleep on it (pgagroal's
                // growth run: a worker slept 59.7 s here). The loop rebuilds at once.
                0
            } else {
                if self.ctl_made_work(out) {
                    timeout = 0.0;
                }
                self.epoll_wait_hooked(timeout, out.since, hooks)
            }
        };
        // SAFETY: after `acquire`: this thread owns the loop again (`Fds::get`).
        self.deliver(unsafe { fds.get() }, n, out);
    }

    /// Did applying this iteration's changes find work the wait must not sleep on: an fd
    /// epoll refuses (EPERM: always ready from now on), a bad fd (its watchers get EV_ERROR
    /// after the poll), or a failed narrowing (the loop rebuilds its epoll set)? libev's
    /// epoll backend learns these in `fd_reify`, before it picks the timeout; recorded
    /// changes go to the kernel inside `poll`, after the timeout was picked, so it is
    /// checked again (found by a differential test: a watcher on a regular file waited for
    /// the whole timeout, up to 59.7 s without timers).
    #[inline]
    fn ctl_made_work(&self, out: &PollOut) -> bool {
        !self.eperms.is_empty() | !out.kill.is_empty() | out.rebuild
    }

    /// [`Uring::epoll_wait`] between the loop's release and acquire hooks (it touches only
    /// `self.events` and reads errno before returning); errors are handled after `acquire`,
    /// as libev calls its syserr callback with the loop acquired.
    #[inline]
    fn epoll_wait_hooked(&mut self, timeout: f64, since: f64, hooks: &Hooks) -> usize {
        hooks.release();
        let n = self.epoll_wait(timeout, since);
        hooks.acquire();
        if n >= 0 {
            n as usize
        } else {
            self.epoll_wait_error(-n)
        }
    }

    /// The queued changes as plain `epoll_ctl` calls.
    fn ctl_plain(&mut self, anfds: &mut FdTable, out: &mut PollOut) {
        if core::mem::take(&mut self.prunes_queued) {
            clear_prune_flags(anfds, &self.changes);
        }
        // By index, not over a taken list: nothing below adds to `self.changes`, and the
        // take and put-back cost ~10 instructions per batch (this is every small batch).
        let mut i = 0;
        while i < self.changes.len() {
            let ch = self.changes[i];
            i += 1;
            if self.ctl(ch.op(), ch.fd(), ch.mask, ch.data()) {
                continue;
            }
            let err = sys::errno();
            if err == libc::EEXIST && !ch.prune && ch.oldmask == ch.mask {
                // The common failure (a watcher stopped and restarted with the same mask:
                // the lazy stop kept the registration), handled inline as the epoll backend
                // and `reap_batch` do: the old registration and its generation stay valid.
                // (`ctl_failed`'s other rules cannot apply: no other thread can have changed
                // the fd since `fd_reify`, which runs on this thread just before `poll`.)
                if let Some(a) = anfds.get_mut(ch.fd() as usize) {
                    a.egen = a.egen.wrapping_sub(1);
                }
                continue;
            }
            self.ctl_failed(anfds, ch, err, out);
        }
        self.changes.clear();
    }

    /// Whether the ring exists for a batch of `k` changes; makes it once batching would have
    /// saved [`ring_after`] system calls.
    #[inline]
    fn ring_ready(&mut self, k: usize) -> bool {
        self.ring.0.is_some() || self.make_ring_now(k)
    }

    #[cold]
    #[inline(never)]
    fn make_ring_now(&mut self, k: usize) -> bool {
        self.credit = self.credit.saturating_add(k as u32 - 1);
        if self.credit < ring_after() {
            return false;
        }
        match take_spare().map_or_else(|| make_ring(SQ_ENTRIES, CQ_ENTRIES, fail_knob()), Ok) {
            Ok(r) => {
                self.ring.0 = Some(r);
                self.pid = sys::getpid();
                true
            }
            Err(_) => {
                // ENOMEM, EMFILE, ...: these changes go out as plain epoll_ctl calls; the
                // loop then rebuilds on the epoll backend (and `ev_backend` says so).
                self.broken = true;
                false
            }
        }
    }

    fn ctl(&self, op: c_int, fd: c_int, mask: u8, data: u64) -> bool {
        epoll::ctl(self.epfd, op, fd, mask, data)
    }

    /// Plain `epoll_wait` into `self.events`; returns the number of events, or `-errno`.
    /// The first call inline (every iteration without changes comes here), errors and
    /// resumed waits out of line.
    #[inline]
    fn epoll_wait(&mut self, timeout: f64, since: f64) -> c_int {
        // The resume deadline counts from `since`, so it is worked out only if an EINTR comes.
        // Without `since` (-inf) it needs a clock reading from before the wait, taken only
        // within a ring-close window (the flag test first: it is almost always clear). Taking
        // the deadline before every wait cost ~20 instructions per wait for a second after
        // each ring close (callgrind, bench_wakeup -m async, whose warm-up destroys loops).
        let since = if since == f64::NEG_INFINITY && RING_CLOSED_AT.load(Ordering::Relaxed) != 0 {
            Self::monotonic_slow()
        } else {
            since
        };
        let n = self.epoll_wait_once(timeout);
        if n >= 0 {
            return n;
        }
        self.epoll_wait_failed(timeout, since)
    }

    #[inline]
    fn epoll_wait_once(&mut self, timeout: f64) -> c_int {
        let cap = self.events.len();
        // SAFETY: the kernel writes at most `cap` entries into the (initialised) buffer.
        unsafe {
            libc::epoll_wait(
                self.epfd,
                self.events.as_mut_ptr(),
                cap as c_int,
                epoll::wait_ms(timeout),
            )
        }
    }

    #[cold]
    #[inline(never)]
    fn monotonic_slow() -> f64 {
        sys::monotonic()
    }

    /// `epoll_wait` failed (errno set): resume after an EINTR that a ring close explains
    /// ([`eintr_from_ring_close`]) until the wait's deadline (`timeout` after `since`, the
    /// time before the wait); any other EINTR ends the wait (0 events); other errors are
    /// returned as `-errno`, to be handled once the loop is acquired again
    /// ([`Uring::epoll_wait_error`]). Runs between the loop's hooks: touches nothing else.
    #[cold]
    #[inline(never)]
    fn epoll_wait_failed(&mut self, mut timeout: f64, since: f64) -> c_int {
        let mut deadline = None;
        loop {
            let err = sys::errno();
            if err != libc::EINTR {
                return -err;
            }
            // `since` unknown here means no ring had been closed when the wait began, so the
            // close cannot explain this EINTR (and a deadline from the clock now would be
            // late): it ends the wait, as any other EINTR.
            if !eintr_from_ring_close() || timeout <= 0.0 || since == f64::NEG_INFINITY {
                return 0;
            }
            let d = *deadline.get_or_insert_with(|| resume_deadline(timeout, since));
            timeout = (d - sys::monotonic()).max(0.0);
            let n = self.epoll_wait_once(timeout);
            if n >= 0 {
                return n;
            }
        }
    }

    /// An `epoll_wait` error other than EINTR, after the acquire hook.
    #[cold]
    #[inline(never)]
    fn epoll_wait_error(&mut self, err: c_int) -> usize {
        match err {
            // Our epoll fd was closed behind our back (EBADF) or its number now names another
            // kind of file (EINVAL): rebuild (as the epoll backend does).
            libc::EBADF | libc::EINVAL => self.epfd_lost = true,
            _ => crate::ffi::globals::syserr(c"(libev) epoll_wait"),
        }
        0
    }

    /// Send the queued changes as one hard-linked chain of EPOLL_CTL requests, followed, when
    /// `wait` is given, by EPOLL_WAIT and its LINK_TIMEOUT; enter until every request of the
    /// chain has completed (see the module comment). Returns the number of events the wait
    /// wrote into `self.events` (0 without a wait).
    fn ctl_and_wait(
        &mut self,
        fds: Fds,
        wait: Option<f64>,
        out: &mut PollOut,
        hooks: &Hooks,
    ) -> usize {
        let changes = core::mem::take(&mut self.changes);
        if core::mem::take(&mut self.prunes_queued) {
            // SAFETY: before `release`: this thread owns the loop (`Fds::get`).
            clear_prune_flags(unsafe { fds.get() }, &changes);
        }
        let cap = self.events.len();
        let ts = types::Timespec::from(std::time::Duration::from_secs_f64(
            wait.unwrap_or(0.0).max(0.0),
        ));
        let mut outstanding = 0u32;
        let mut wait_res: Option<i32> = None;
        let flags = if wait.is_some() {
            squeue::Flags::IO_HARDLINK.bits()
        } else {
            0
        };
        self.queue_all_ctls(
            &changes,
            3,
            flags,
            &mut outstanding,
            &mut wait_res,
            fds,
            out,
        );
        if wait.is_some() {
            let w = opcode::EpollWait::new(
                types::Fd(self.epfd),
                self.events.as_mut_ptr() as *mut types::epoll_event,
                cap as u32,
            )
            .build()
            .flags(squeue::Flags::IO_LINK)
            .user_data(UD_WAIT);
            let t = opcode::LinkTimeout::new(&ts).build().user_data(UD_TIMEOUT);
            self.push(&w);
            self.push(&t);
            outstanding += 2;
        }
        self.enter_until(
            &mut outstanding,
            &mut wait_res,
            &changes,
            fds,
            out,
            Bound::Reap,
            hooks,
        );
        let mut changes = changes;
        changes.clear();
        self.changes = changes;
        self.wait_result(wait_res)
    }

    /// epollwait, `ext` variant: the changes as unlinked EPOLL_CTLs followed by an unlinked
    /// EPOLL_WAIT, all in one enter that waits for every CQE with the iteration's timeout as
    /// EXT_ARG (no links, no LINK_TIMEOUT: each link step is one task-work pass). The CTLs
    /// are issued inline in SQ order before the wait; one punted to io-wq (-EAGAIN, epoll
    /// mutex contended) completes after the wait: then the wait's harvest is discarded (our
    /// registrations are level-triggered, nothing is consumed, except the wakeup eventfd's
    /// edge: `edges_lost`) and the next wait is non-blocking. On
    /// timeout the wait is cancelled synchronously and reaped, so it is never left in flight.
    fn ctl_and_wait_ext(
        &mut self,
        fds: Fds,
        timeout: f64,
        out: &mut PollOut,
        hooks: &Hooks,
    ) -> usize {
        let lt = wait_variant() == WaitVariant::LinkTimeout;
        let bound = if lt {
            Bound::Reap
        } else {
            Bound::Fresh(timeout)
        };
        let changes = core::mem::take(&mut self.changes);
        if core::mem::take(&mut self.prunes_queued) {
            // SAFETY: before `release`: this thread owns the loop (`Fds::get`).
            clear_prune_flags(unsafe { fds.get() }, &changes);
        }
        let cap = self.events.len();
        let mut outstanding = 0u32;
        let mut wait_res: Option<i32> = None;
        self.ctl_left = changes.len() as u32;
        self.wait_late = false;
        let ctl_flags = if cfg!(test) && self.test_async_ctl {
            // Unit test: force the CTLs to io-wq, so they complete after the wait.
            squeue::Flags::ASYNC.bits()
        } else {
            0
        };
        self.queue_all_ctls(
            &changes,
            2,
            ctl_flags,
            &mut outstanding,
            &mut wait_res,
            fds,
            out,
        );
        let ts = if lt {
            types::Timespec::from(std::time::Duration::from_secs_f64(timeout.max(0.0)))
        } else {
            types::Timespec::new()
        };
        let w = RawSqe {
            opcode: opcode::EpollWait::CODE,
            flags: if lt { squeue::Flags::IO_LINK.bits() } else { 0 },
            fd: self.epfd,
            addr: self.events.as_mut_ptr() as u64,
            len: cap as u32,
            user_data: UD_WAIT,
            ..RAW_ZERO
        };
        self.push_raw(w);
        outstanding += 1;
        if lt {
            let t = opcode::LinkTimeout::new(&ts).build().user_data(UD_TIMEOUT);
            self.push(&t);
            outstanding += 1;
        }
        // `ts` lives until every request is reaped.
        self.enter_until(
            &mut outstanding,
            &mut wait_res,
            &changes,
            fds,
            out,
            bound,
            hooks,
        );
        let mut changes = changes;
        changes.clear();
        self.changes = changes;
        if self.wait_late {
            self.nonblock_next = true;
            self.edges_lost = true;
            return 0;
        }
        self.wait_result(wait_res)
    }

    /// Queue every change as an EPOLL_CTL, leaving `extra` SQ slots for what follows them;
    /// a batch larger than the SQ goes in chunks, each reaped before the next so the kernel
    /// applies the changes in order.
    #[allow(clippy::too_many_arguments)]
    fn queue_all_ctls(
        &mut self,
        changes: &[Change],
        extra: usize,
        flags: u8,
        outstanding: &mut u32,
        wait_res: &mut Option<i32>,
        fds: Fds,
        out: &mut PollOut,
    ) {
        let mut next = 0;
        while next < changes.len() {
            let n = self.queue_ctls(changes, next, extra, flags);
            next += n;
            *outstanding += n as u32;
            if next < changes.len() {
                self.enter_until(
                    outstanding,
                    wait_res,
                    changes,
                    fds,
                    out,
                    Bound::Reap,
                    &Hooks::NONE,
                );
                if self.broken || self.ring_lost {
                    break;
                }
            }
        }
    }

    /// Events an EPOLL_WAIT request harvested (0 when cancelled, timed out or absent).
    fn wait_result(&mut self, wait_res: Option<i32>) -> usize {
        match wait_res {
            Some(n) if n > 0 => n as usize,
            // EAGAIN: the armed wait was woken, found the readiness consumed (another
            // process read the shared fd first: a prefork accept herd) over and over, and the
            // kernel's last retry in io-wq gave up. Nothing is lost (level-triggered): an
            // early wake-up. (It once sent the loop to the epoll backend for good: review.)
            Some(n)
                if n == -libc::ECANCELED || n == 0 || n == -libc::EINTR || n == -libc::EAGAIN =>
            {
                0
            }
            Some(n) if (n == -libc::EBADF || n == -libc::EINVAL) && self.epfd_gone() => {
                // The application closed our epoll fd (or put another file on its number):
                // rebuild on io_uring, as `epoll_wait` failing the same way does.
                self.epfd_lost = true;
                0
            }
            Some(_) => {
                // The wait itself failed (should not happen): fall back to epoll.
                self.broken = true;
                0
            }
            None => 0,
        }
    }

    /// Submit the queued SQEs and reap until `outstanding` requests have all completed.
    /// `bound`: how an unlinked EPOLL_WAIT in the batch ends ([`Bound`]).
    #[allow(clippy::too_many_arguments)]
    fn enter_until(
        &mut self,
        outstanding: &mut u32,
        wait_res: &mut Option<i32>,
        changes: &[Change],
        fds: Fds,
        out: &mut PollOut,
        bound: Bound,
        hooks: &Hooks,
    ) {
        self.enter_until_inner(outstanding, wait_res, changes, fds, out, bound, hooks);
        if *outstanding > 0 && wait_res.is_none() {
            self.abandon_wait_buffer();
        }
    }

    /// The batch was given up with its EPOLL_WAIT possibly still in the kernel (the ring's
    /// number was lost, an enter or the cancel failed): that request may still write events
    /// into `self.events` -- when it completes, or when the ring's teardown runs it, which
    /// can be much later if another thread's registration keeps the ring alive (found by
    /// review: 12 bytes written into a block the application had allocated after the loop
    /// rebuilt). Its buffer is kept for the life of the process (`cap` events, once per such
    /// failure; in a list, so leak checkers still see it referenced) and replaced.
    #[cold]
    #[inline(never)]
    fn abandon_wait_buffer(&mut self) {
        // A lock-free list (a lock held by another thread at a fork would deadlock the child).
        struct Node {
            _buf: Vec<libc::epoll_event>,
            next: *mut Node,
        }
        static ABANDONED: AtomicPtr<Node> = AtomicPtr::new(core::ptr::null_mut());
        self.edges_lost = true;
        let cap = self.events.len();
        let old = core::mem::replace(&mut self.events, vec![EV_ZERO; cap]);
        let node = Box::into_raw(Box::new(Node {
            _buf: old,
            next: core::ptr::null_mut(),
        }));
        let mut head = ABANDONED.load(Ordering::Relaxed);
        loop {
            // SAFETY: `node` is ours until the exchange publishes it.
            unsafe { (*node).next = head };
            match ABANDONED.compare_exchange_weak(head, node, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(h) => head = h,
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn enter_until_inner(
        &mut self,
        outstanding: &mut u32,
        wait_res: &mut Option<i32>,
        changes: &[Change],
        fds: Fds,
        out: &mut PollOut,
        mut bound: Bound,
        hooks: &Hooks,
    ) {
        let cq_cap = self.ring.cq_entries();
        while *outstanding > 0 || self.ring.sq_len() > 0 {
            let to_submit = self.ring.sq_len();
            let want = (*outstanding).min(cq_cap);
            let mut ts = None;
            let cancel = match bound {
                Bound::Reap => false,
                _ if wait_res.is_some() => {
                    bound = Bound::Reap;
                    false
                }
                Bound::Fresh(t) => {
                    bound = Bound::Until(resume_deadline(t, out.since));
                    ts = Some(timeout_ns(t.max(0.0)));
                    false
                }
                Bound::Until(d) => {
                    let left = d - sys::monotonic();
                    if left > 0.0 || to_submit > 0 {
                        // Requests not yet submitted are submitted first, even when the
                        // deadline passed meanwhile (a tiny timeout, or a slow machine):
                        // cancelling a wait that is not in the kernel yet finds nothing
                        // (ENOENT), and the reaping enter below would then wait for it with
                        // no bound (seen under valgrind: a loop hung for minutes). With a
                        // zero timeout the enter only submits; the next pass cancels.
                        ts = Some(timeout_ns(left.max(0.0)));
                        false
                    } else {
                        true
                    }
                }
            };
            if cancel {
                bound = Bound::Reap;
                // ENOENT/EALREADY: it completed meanwhile (the wait was submitted above);
                // its CQE is reaped below either way. Anything else means we cannot bound
                // the reaping enter: give the ring up (`enter_until` leaves the wait's buffer
                // to it: the ring may outlive the loop's use of it).
                let rc = self.ring.sync_cancel(UD_WAIT);
                if rc < 0 && !matches!(-rc, libc::ENOENT | libc::EALREADY | libc::EINTR) {
                    self.enter_failed(-rc);
                    return;
                }
                if !self.ring.cq_is_empty() && self.ring.sq_len() == 0 {
                    // The cancel posted the CQE (no enter needed to reap it).
                    // SAFETY: outside the hooks' window: this thread owns the loop.
                    self.reap_batch(outstanding, wait_res, changes, unsafe { fds.get() }, out);
                    continue;
                }
            }
            // The SQEs point into buffers owned by `self` / `changes` that outlive this loop
            // (we do not return before all are reaped).
            // Every enter of a batch with a wait may block -- also a later pass, e.g. after a
            // signal ended the first one early with the wait still in flight -- so each runs
            // between the loop's release and acquire hooks, as libev's io_uring backend does
            // (`Hooks::NONE` for the reaping passes of a chunked batch). The result carries
            // errno: read before `acquire`.
            hooks.release();
            let r = self.ring.enter(to_submit, want, GETEVENTS, ts);
            hooks.acquire();
            if r < 0 {
                match -r {
                    libc::EINTR if ts.is_some() && !eintr_from_ring_close() => {
                        // A signal ends the wait, as it ends epoll_wait.
                        bound = Bound::Until(f64::NEG_INFINITY);
                    }
                    libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN => {}
                    err if self.ring_number_gone(err) => {
                        // Nothing was submitted by this enter (the fd lookup failed first), but an
                        // earlier pass may have: rebuild (`enter_until` leaves the buffer).
                        self.ring_lost = true;
                        return;
                    }
                    _ => {
                        // Cannot finish the chain safely: nothing more we can do than mark
                        // the ring broken; the loop rebuilds on epoll. What is still in flight
                        // keeps its buffer (`enter_until`): dropping the ring does not cancel
                        // it synchronously, nor at all while another thread's registration
                        // holds the ring.
                        self.broken = true;
                        return;
                    }
                }
            }
            // SAFETY: after `acquire`: this thread owns the loop again (`Fds::get`).
            self.reap_batch(outstanding, wait_res, changes, unsafe { fds.get() }, out);
            if self.broken {
                return;
            }
        }
    }

    /// Reap every available CQE of a CTL/WAIT batch, straight from the CQ: successes (and
    /// the common EEXIST below) cost a few instructions each; the other failures are
    /// collected and handled afterwards, in completion order.
    fn reap_batch(
        &mut self,
        outstanding: &mut u32,
        wait_res: &mut Option<i32>,
        changes: &[Change],
        anfds: &mut FdTable,
        out: &mut PollOut,
    ) {
        // `self.cqes` may hold CQEs a full SQ made us drain while queueing (see `push`).
        let buffered = core::mem::take(&mut self.cqes);
        let mut failed = core::mem::take(&mut self.failed);
        let mut st = Reaped {
            done: 0,
            ctl_left: self.ctl_left,
            wait_late: self.wait_late,
            wait_res: *wait_res,
        };
        for &(ud, res) in &buffered {
            st.one(ud, res, changes, anfds, &mut failed);
        }
        loop {
            self.ring
                .reap(|ud, res| st.one(ud, res, changes, anfds, &mut failed));
            if !self.ring.cq_overflow() {
                break;
            }
            // NODROP backlog: an enter with GETEVENTS moves it into the (now empty) CQ.
            let r = self.ring.enter(0, 0, GETEVENTS, None);
            if r < 0 && !matches!(-r, libc::EINTR | libc::EBUSY | libc::EAGAIN) {
                self.enter_failed(-r);
                break;
            }
        }
        *outstanding -= st.done;
        *wait_res = st.wait_res;
        self.ctl_left = st.ctl_left;
        self.wait_late = st.wait_late;
        if !failed.is_empty() {
            self.handle_failed(&mut failed, changes, anfds, out);
        }
        self.failed = failed;
        let mut buffered = buffered;
        buffered.clear();
        self.cqes = buffered;
    }

    /// The failed CTL completions [`Uring::reap_batch`] collected, in completion order.
    #[cold]
    #[inline(never)]
    fn handle_failed(
        &mut self,
        failed: &mut Vec<(u64, i32)>,
        changes: &[Change],
        anfds: &mut FdTable,
        out: &mut PollOut,
    ) {
        for &(ud, res) in failed.iter() {
            if let Tag::Ctl(i) = decode(ud) {
                let ch = changes[i as usize];
                self.ctl_failed(anfds, ch, -res, out);
            }
        }
        failed.clear();
    }

    /// An EPOLL_CTL failed with `err`: the epoll backend's error rules.
    fn ctl_failed(&mut self, anfds: &mut FdTable, ch: Change, err: c_int, out: &mut PollOut) {
        let fd = ch.fd();
        if ch.prune {
            if matches!(err, libc::ENOENT | libc::EBADF) {
                // The application closed the fd after the wait that queued the narrowing:
                // no need to rebuild the whole set for it (found by review: stop, peer
                // hang-up, close -> a new epoll set and every fd re-added). Usually the
                // kernel dropped the registration with the file; if the file lives on
                // elsewhere (dup, fork) the registration does too, and the new generation
                // makes its events foreign, which rebuilds the set then (review: without it
                // they passed as ours and queued the failing narrowing again, a busy loop).
                if let Some(a) = anfds.get_mut(fd as usize) {
                    a.emask = 0;
                    a.egen = a.egen.wrapping_add(1);
                }
            } else {
                out.rebuild = true;
            }
            return;
        }
        if let Some(a) = anfds.get_mut(fd as usize).filter(|a| a.reify != 0) {
            // The fd changed again since this request was made: between the release and
            // acquire hooks (the enter of a batch runs there) another thread stopped or
            // started its watchers, perhaps after closing the fd and opening another file on
            // its number. This result may belong to the old file (found by review: a valid
            // watcher on the new file got EV_ERROR), so it is not acted on; instead the fd is
            // sent again at the next `fd_reify` as a new registration (EV__IOFDSET: even if
            // its mask did not change), whose own result counts, before that wait.
            a.reify |= crate::ffi::abi::EV__IOFDSET as u8;
            a.emask = 0;
            return;
        }
        if matches!(err, libc::EBADF | libc::EINVAL) && self.epfd_gone() {
            // Our epoll fd, not the application's fd, is what failed: rebuild the set (which
            // re-registers every fd) instead of failing the fd's watchers, as the epoll
            // backend does.
            self.epfd_lost = true;
            return;
        }
        match epoll::recover(
            self.epfd,
            anfds,
            &mut self.eperms,
            err,
            fd,
            ch.oldmask,
            ch.mask,
            ch.data(),
        ) {
            epoll::Recovery::Done => {}
            epoll::Recovery::Fixed => self.mark_fixed(anfds, fd),
            epoll::Recovery::Kill => out.kill.push(fd),
        }
    }

    /// After an EPOLL_CTL/EPOLL_WAIT failed with EBADF or EINVAL: does our epoll fd number
    /// no longer name an epoll instance (the application closed it, or put another kind of
    /// file there)? Else the watched fd is what failed (closed; or the loop's own epoll fd
    /// watched: EINVAL). Asked of the kernel with a non-blocking `epoll_wait` of one event,
    /// on failures only: `fstat` cannot tell, every eventfd, timerfd, signalfd and epoll fd
    /// shares one anonymous inode (review). An event it takes is reported again if it is
    /// level-triggered; for the loop's edge-triggered wakeup eventfd the loop is told to
    /// rescan ([`Uring::edges_lost`]). (An application epoll fd `dup2()`ed onto the number
    /// passes; the generation tags of its foreign events trigger a rebuild.)
    #[cold]
    fn epfd_gone(&mut self) -> bool {
        let mut ev = EV_ZERO;
        // SAFETY: one writable event; zero timeout.
        let r = unsafe { libc::epoll_wait(self.epfd, &mut ev, 1, 0) };
        if r > 0 {
            self.edges_lost = true;
        }
        r < 0 && matches!(sys::errno(), libc::EBADF | libc::EINVAL)
    }

    /// A fix-up re-registered `fd` (before the wait: see the module comment): the wait that
    /// follows drops its events of an old registration without rebuilding the set.
    fn mark_fixed(&mut self, anfds: &mut FdTable, fd: c_int) {
        let a = &mut anfds[fd as usize];
        if a.eflags & FIXED == 0 {
            a.eflags |= FIXED;
            self.fixed.push(fd);
        }
    }

    /// The per-event part of [`Uring::deliver`] (`0 < n <= self.events.len()`).
    fn deliver_events(&mut self, anfds: &mut FdTable, n: usize, out: &mut PollOut) {
        // Room for every event up front: the loop then writes without capacity checks.
        out.ready.reserve(n);
        let base = out.ready.as_mut_ptr();
        let mut k = out.ready.len();
        let mut rebuild = false;
        let mut stale = false;
        let events = self.events[..n].as_ptr_range();
        let mut p = events.start;
        while p != events.end {
            // SAFETY: `p` walks the first `n` (initialised) events; nothing resizes
            // `self.events` in this loop (the prune only touches `self.changes`). A pointer
            // rather than a slice borrow lets the rare prune take `&mut self` (passing
            // `&mut self.changes` cost a spilled address on every call).
            let ev = unsafe { *p };
            // SAFETY: at most `end`.
            p = unsafe { p.add(1) };
            let data = ev.u64;
            let fd = data as u32 as usize;
            let got = event_mask(ev.events);
            let Some(a) = anfds.get_mut(fd) else {
                rebuild = true;
                continue;
            };
            if (data >> 32) as u32 != a.egen {
                // Interference (see the epoll backend), unless the fd was just re-added.
                // Either way an edge-triggered event is gone: rescan (review).
                rebuild |= a.eflags & FIXED == 0;
                stale = true;
                continue;
            }
            if got & !a.events != 0 {
                // Kernel mask wider than wanted (lazy stop): narrow it with the next batch.
                self.queue_prune(a, fd as c_int);
            }
            // SAFETY: at most `n` writes into the `n` slots reserved past the length; nothing
            // else touches `out.ready` in this loop.
            unsafe { base.add(k).write((fd as i32, got as i32)) };
            k += 1;
        }
        if rebuild | stale {
            out.rebuild |= rebuild;
            out.rescan = true;
        }
        // SAFETY: the slots up to `k` were initialised (before the loop or by it).
        unsafe { out.ready.set_len(k) };
    }

    /// Queue the narrowing of `fd`'s registration to what its watchers want. Out of line:
    /// rare (after a lazy stop), and inline its spills cost the per-event loop of
    /// [`Uring::deliver_events`] instructions on every event.
    #[cold]
    #[inline(never)]
    fn queue_prune(&mut self, a: &mut Anfd, fd: c_int) {
        let want = a.events;
        a.emask = want;
        a.eflags |= PRUNE_QUEUED;
        let op = if want != 0 {
            libc::EPOLL_CTL_MOD
        } else {
            libc::EPOLL_CTL_DEL
        };
        self.changes
            .push(Change::new(fd, a.egen, op, want, want, true));
        self.prunes_queued = true;
    }

    /// Turn the wait's `n` events into readiness (the epoll backend's rules).
    fn deliver(&mut self, anfds: &mut FdTable, n: usize, out: &mut PollOut) {
        let cap = self.events.len();
        let n = n.min(cap);
        if n > 0 {
            self.deliver_events(anfds, n, out);
        }
        if n == cap {
            // Full buffer: more may be ready; grow for the next wait.
            let next = super::next_event_cap(core::mem::size_of::<libc::epoll_event>(), cap);
            self.events.resize(next, EV_ZERO);
        }
        if !self.fixed.is_empty() || !self.eperms.is_empty() {
            self.deliver_rare(anfds, out);
        }
    }

    /// The rare part of [`Uring::deliver`]: fds re-added by an error recovery this batch, and
    /// the always-ready (EPERM) fds. Out of line: one test on the common path.
    #[cold]
    #[inline(never)]
    fn deliver_rare(&mut self, anfds: &mut FdTable, out: &mut PollOut) {
        for fd in self.fixed.drain(..) {
            if let Some(a) = anfds.get_mut(fd as usize) {
                a.eflags &= !FIXED;
            }
        }
        if !self.eperms.is_empty() {
            epoll::report_eperms(&mut self.eperms, anfds, out);
        }
    }
}

/// [`Uring::reap_batch`]'s tallies: plain locals (the per-CQE step is inlined at both of its
/// call sites, so they stay in registers; a closure called from two places kept them in
/// memory: ~15 instructions more per CQE, callgrind bench_churn -k 10).
struct Reaped {
    /// Completions of this batch's requests seen (CTLs, the wait, its timeout).
    done: u32,
    /// CTL completions still expected in the batch ([`Uring::ctl_left`]).
    ctl_left: u32,
    /// The wait completed while CTLs were still outstanding ([`Uring::wait_late`]).
    wait_late: bool,
    wait_res: Option<i32>,
}

impl Reaped {
    /// One CQE. The CTL completions first, by their low word (the bulk of a batch);
    /// anything else through `decode`.
    #[inline(always)]
    fn one(
        &mut self,
        ud: u64,
        res: i32,
        changes: &[Change],
        anfds: &mut FdTable,
        failed: &mut Vec<(u64, i32)>,
    ) {
        if ud as u32 == LOW_CTL {
            self.done += 1;
            self.ctl_left = self.ctl_left.saturating_sub(1);
            if res < 0 {
                match changes.get((ud >> 32) as usize) {
                    // A watcher stopped and restarted with the same mask (the lazy stop kept
                    // the registration): the old registration and its generation stay
                    // valid -- `epoll::recover`'s EEXIST rule, inline.
                    Some(ch) if res == -libc::EEXIST && !ch.prune && ch.oldmask == ch.mask => {
                        if let Some(a) = anfds.get_mut(ch.fd() as usize) {
                            a.egen = a.egen.wrapping_sub(1);
                        }
                    }
                    Some(_) => failed.push((ud, res)),
                    None => {}
                }
            }
            return;
        }
        // At most two per batch. The kind comes from a call, so that the CTL test above
        // stays first and alone (inline, the compiler merges the tests into one switch that
        // tries the rare kinds first), and the tallies stay in registers.
        match decode_outlined(ud) {
            Tag::Wait => {
                self.done += 1;
                self.wait_res = Some(res);
                // An unlinked CTL that completes after the wait (punted to io-wq on
                // -EAGAIN) may have been applied after the wait harvested.
                self.wait_late = self.ctl_left > 0;
            }
            Tag::Timeout => self.done += 1,
            _ => {}
        }
    }
}

#[inline(never)]
fn decode_outlined(ud: u64) -> Tag {
    decode(ud)
}

/// How [`Uring::enter_until`] ends an unlinked EPOLL_WAIT of the batch.
#[derive(Clone, Copy, Debug)]
enum Bound {
    /// No such wait (or it has completed, or a LINK_TIMEOUT bounds it): reap everything.
    Reap,
    /// The first pass of a wait of this many seconds: the enter carries the whole timeout,
    /// so no clock is read (~40 instructions per iteration). Later passes are rare (an EINTR
    /// that a ring close explains, a batch larger than the CQ) and use the deadline
    /// [`resume_deadline`] gives: without a ring close there is none, and the wait is
    /// cancelled at once -- an early wake-up, as a signal gives.
    Fresh(f64),
    /// Wait with the remaining time (EXT_ARG) until this monotonic deadline, then cancel
    /// it synchronously (also on a real EINTR) and reap.
    Until(f64),
}

/// How the epollwait strategy bounds its wait (measurement knob `EVRING_URING_EPW`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum WaitVariant {
    /// `link`: hard-linked CTLs → EPOLL_WAIT → LINK_TIMEOUT.
    Linked,
    /// `lt`: unlinked CTLs, EPOLL_WAIT → LINK_TIMEOUT.
    LinkTimeout,
    /// `ext`: unlinked CTLs and EPOLL_WAIT, the timeout on the enter (EXT_ARG), a
    /// synchronous cancel when it expires ([`Uring::ctl_and_wait_ext`]).
    Ext,
}

fn wait_variant() -> WaitVariant {
    static V: OnceLock<WaitVariant> = OnceLock::new();
    *V.get_or_init(|| {
        env(c"EVRING_URING_EPW", |v| match v {
            "link" => Some(WaitVariant::Linked),
            "lt" => Some(WaitVariant::LinkTimeout),
            _ => None,
        })
        .unwrap_or(WaitVariant::Ext)
    })
}

/// Up to this many interest changes in an iteration go to the kernel as plain `epoll_ctl`
/// calls before the wait (epoll modes); more are batched through the ring. Measurement knob
/// `EVRING_URING_SMALL`; the default is the measured crossover (bench/uring/RESULTS.md).
const SMALL_BATCH: usize = 2;

fn small_batch() -> usize {
    static V: OnceLock<usize> = OnceLock::new();
    *V.get_or_init(|| env(c"EVRING_URING_SMALL", |v| v.parse().ok()).unwrap_or(SMALL_BATCH))
}

fn sys_pid_changed(_pid: c_int) -> bool {
    // The atfork generation covers every libc fork(); a getpid() per iteration would cost a
    // syscall. (Drop checks the pid as well.)
    false
}

/// Can the batch share one enter with the wait (`epollwait`)? Only if every change is a
/// re-registration with the mask the kernel already has (`ev_io_stop` + `ev_io_start` of an
/// fd, pgagroal's transaction pipeline and every `ev_io_set` of the same fd): its EPOLL_CTL_ADD
/// ends in EEXIST (the registration is kept) or, if the application closed the fd and opened
/// another pollable file on its number meanwhile, in a new registration -- both need nothing
/// before the wait. Any other change can fail in a way that must be handled before the wait
/// (EEXIST on an ADD with another mask, ENOENT on a MOD, EPERM on a new fd), and the kernel
/// reports that only in a CQE that does not end the wait.
fn probes_only(changes: &[Change]) -> bool {
    changes
        .iter()
        .all(|c| !c.prune && c.op == libc::EPOLL_CTL_ADD as u8 && c.oldmask == c.mask)
}

fn clear_prune_flags(anfds: &mut FdTable, changes: &[Change]) {
    for c in changes.iter().filter(|c| c.prune) {
        if let Some(a) = anfds.get_mut(c.fd() as usize) {
            a.eflags &= !PRUNE_QUEUED;
        }
    }
}

fn queue_arm(arm: &mut Vec<c_int>, anfds: &mut FdTable, fd: c_int) {
    let a = &mut anfds[fd as usize];
    if a.eflags & QUEUED == 0 {
        a.eflags |= QUEUED;
        arm.push(fd);
    }
}

fn timeout_ns(t: f64) -> u64 {
    (t * 1e9) as u64
}

impl Drop for Uring {
    fn drop(&mut self) {
        // Close our numbers only while they still name our files: the application may have
        // closed them and reused the numbers for its own files. In our process the kernel is
        // asked whether the number still names an epoll instance (`epfd_gone`: an
        // application's eventfd, timerfd or signalfd `dup2()`ed there passes `fstat`, as they
        // all share one anonymous inode -- found by review); a forked child must not wait on
        // its parent's set, so there `fstat` decides (same count of system calls either way).
        if self.epfd >= 0 && !self.epfd_lost {
            let ours = if self.foreign() {
                ring::file_id(self.epfd) == self.epfd_id
            } else {
                !self.epfd_gone()
            };
            if ours {
                sys::close(self.epfd);
            }
        }
        if self.ring.0.is_none() {
            return; // never made
        }
        let foreign = self.foreign() || sys::getpid() != self.pid;
        let Some(ring) = self.ring.0.as_mut() else {
            return;
        };
        if foreign {
            // A forked child: the mappings are not there (MADV_DONTFORK), and the ring with
            // its requests belongs to the parent. Close our descriptor only.
            ring.release(false);
        } else {
            // No request references our buffers: the epoll modes finish all requests within
            // `poll`; poll requests use no memory.
            ring.release(true);
            note_ring_closed();
        }
    }
}

fn poll_mask(m: u8) -> u32 {
    let m = m as i32;
    let mut r = 0;
    if m & EV_READ != 0 {
        r |= libc::POLLIN;
    }
    if m & EV_WRITE != 0 {
        r |= libc::POLLOUT;
    }
    r as u32
}

fn poll_event_mask(res: u32) -> u8 {
    let e = res as i16;
    let mut m = 0;
    if e & (libc::POLLOUT | libc::POLLERR | libc::POLLHUP) != 0 {
        m |= EV_WRITE;
    }
    if e & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0 {
        m |= EV_READ;
    }
    m as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_roundtrip() {
        assert_eq!(decode(ud_poll(5, 7)), Tag::Poll { fd: 5, gen: 7 });
        assert_eq!(
            decode(ud_poll(i32::MAX as u32, u32::MAX)),
            Tag::Poll {
                fd: i32::MAX as u32,
                gen: u32::MAX
            }
        );
        assert_eq!(decode(ud_ctl(0)), Tag::Ctl(0));
        assert_eq!(decode(ud_ctl(12345)), Tag::Ctl(12345));
        assert_eq!(decode(UD_WAIT), Tag::Wait);
        assert_eq!(decode(UD_TIMEOUT), Tag::Timeout);
        assert_eq!(decode(UD_IGNORE), Tag::Ignore);
        // generation in the high word never turns a special tag into a poll
        assert_eq!(decode((3u64 << 32) | LOW_WAIT as u64), Tag::Wait);
    }

    #[test]
    fn knobs_parse() {
        assert_eq!(parse_mode("poll"), Some(Mode::Poll));
        assert_eq!(parse_mode("epollctl"), Some(Mode::EpollCtl));
        assert_eq!(parse_mode("epollwait"), Some(Mode::EpollWait));
        assert_eq!(parse_mode("x"), None);
        assert_eq!(parse_fail("enosys"), Some(Fail::Errno(libc::ENOSYS)));
        assert_eq!(parse_fail("eperm"), Some(Fail::Errno(libc::EPERM)));
        assert_eq!(parse_fail("enomem"), Some(Fail::Errno(libc::ENOMEM)));
        assert_eq!(parse_fail("einval"), Some(Fail::Errno(libc::EINVAL)));
        assert_eq!(parse_fail("old"), Some(Fail::Old));
        assert_eq!(parse_fail(""), None);
    }

    #[test]
    fn simulated_failures_never_build() {
        for f in ["enosys", "eperm", "enomem", "einval"] {
            let fail = parse_fail(f);
            let r = make_ring(4, 8, fail);
            assert!(r.is_err(), "{f}");
        }
        if let Ok(r) = make_ring(4, 8, None) {
            assert!(pick(probe_ops(&r), Mode::Poll, Some(Fail::Old)).is_none());
        }
    }

    #[test]
    fn masks() {
        assert_eq!(poll_event_mask(libc::POLLIN as u32), EV_READ as u8);
        assert_eq!(poll_event_mask(libc::POLLOUT as u32), EV_WRITE as u8);
        assert_eq!(
            poll_event_mask(libc::POLLHUP as u32),
            (EV_READ | EV_WRITE) as u8
        );
        assert_eq!(
            event_mask(libc::EPOLLERR as u32),
            (EV_READ | EV_WRITE) as u8
        );
        assert_eq!(
            poll_mask((EV_READ | EV_WRITE) as u8),
            (libc::POLLIN | libc::POLLOUT) as u32
        );
    }

    fn table(n: usize) -> FdTable {
        FdTable::with_len(n)
    }

    fn pair() -> (c_int, c_int) {
        let mut sv = [0; 2];
        // SAFETY: valid out array.
        let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, sv.as_mut_ptr()) };
        assert_eq!(r, 0);
        (sv[0], sv[1])
    }

    fn write1(fd: c_int) {
        // SAFETY: one byte from a valid buffer.
        assert_eq!(unsafe { libc::write(fd, b"x".as_ptr() as *const _, 1) }, 1);
    }

    /// The ring fd is high, registered for this thread only, and a number the application
    /// took over is never closed by the teardown.
    #[test]
    fn ring_fd_high_registered_and_never_closes_a_foreign_file() {
        if !available() {
            return;
        }
        let r = make_ring(4, 8, None).expect("ring");
        let fd = r.fd();
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: valid out-pointer.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) }, 0);
        if rl.rlim_cur > 1024 {
            assert!(fd >= 512, "{fd}");
        } else if rl.rlim_cur >= 128 {
            assert!(fd as u64 >= rl.rlim_cur / 2, "{fd}");
        }
        let here = r.registered_here();
        let (mut r, elsewhere) = std::thread::spawn(move || {
            let e = r.registered_here();
            (r, e)
        })
        .join()
        .unwrap();
        assert!(!elsewhere);
        // The ring keeps working through the registered index after its number is gone.
        let (x, y) = pair();
        // SAFETY: replacing our own ring number with a socket, as an application might.
        assert_eq!(unsafe { libc::dup2(x, fd) }, fd);
        let nop = opcode::Nop::new().build().user_data(7);
        assert!(r.push(&nop));
        let n = r.enter(r.sq_len(), 1, GETEVENTS, None);
        if here {
            assert_eq!(n, 1);
            let mut got = Vec::new();
            r.reap(|ud, res| got.push((ud, res)));
            assert_eq!(got, vec![(7, 0)]);
        } else {
            assert_eq!(n, -libc::EOPNOTSUPP); // kernel < 5.18: through the fd
        }
        r.release(true);
        // SAFETY: probing our socket's number.
        assert!(
            unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0,
            "closed the foreign file"
        );
        write1(y);
        let mut c = 0u8;
        // SAFETY: one byte into a valid buffer.
        assert_eq!(unsafe { libc::read(fd, &mut c as *mut u8 as *mut _, 1) }, 1);
        for f in [fd, x, y] {
            sys::close(f);
        }
    }

    /// Rings registered by one thread and released by another no longer pile up in the
    /// registering thread's table (16 slots): before, after 16 such rings that thread's new
    /// rings could not be registered. Runs on a fresh thread (the test harness reuses none,
    /// but other tests may have registered rings on theirs).
    #[test]
    fn rings_released_by_another_thread_free_their_slots() {
        if !available() {
            return;
        }
        std::thread::spawn(|| {
            let first = make_ring(4, 8, None).expect("ring");
            if !first.registered_here() {
                return; // kernel < 5.18: nothing is registered
            }
            drop(first);
            for round in 0..40 {
                let r = make_ring(4, 8, None).expect("ring");
                assert!(r.registered_here(), "round {round}: not registered");
                std::thread::spawn(move || drop(r)).join().unwrap();
            }
            assert!(ring::orphans::pending() >= 1);
            let last = make_ring(4, 8, None).expect("ring");
            assert!(last.registered_here());
        })
        .join()
        .unwrap();
    }

    /// Rings released after their registering thread exited are not recorded as orphans:
    /// nothing would ever sweep them, and they filled the 64-entry table for good (review).
    #[test]
    fn orphans_of_exited_threads_are_not_recorded() {
        if !available() {
            return;
        }
        for _ in 0..70 {
            let (here, r) = std::thread::spawn(|| {
                let r = make_ring(4, 8, None).expect("ring");
                (r.registered_here(), r)
            })
            .join()
            .unwrap();
            if !here {
                return; // kernel < 5.18
            }
            drop(r); // released here, after its registering thread exited
        }
        assert!(
            ring::orphans::pending() < 64,
            "orphan table holds {} entries of exited threads",
            ring::orphans::pending()
        );
    }

    /// An `epollwait` ring in the `ext` variant, or None where this kernel/config has none.
    fn ext_ring() -> Option<Uring> {
        if !available() || wait_variant() != WaitVariant::Ext {
            return None;
        }
        let b = Uring::build(Mode::EpollWait, false)?;
        // kernel < 6.15: no EPOLL_WAIT, the ring runs epollctl
        (b.mode() == Mode::EpollWait).then_some(b)
    }

    /// epollwait `ext`: CTLs that complete after the wait (punted to io-wq) make the wait's
    /// harvest be discarded and the next wait non-blocking; nothing is lost or stale.
    #[test]
    fn late_ctls_discard_the_harvest() {
        let Some(mut b) = ext_ring() else {
            return;
        };
        b.test_async_ctl = true;
        let r = EV_READ as u8;
        let pairs: Vec<_> = (0..4).map(|_| pair()).collect();
        let mut anfds = table(256);
        let mut out = PollOut::default();
        // One fd already readable and registered before (so the wait has something to
        // harvest at once), then a batch of changes that go through io-wq.
        let (x0, y0) = pairs[0];
        anfds[x0 as usize].events = r;
        b.modify(&mut anfds, x0, 0, r, &mut out);
        b.poll(Fds::new(&mut anfds), 0.0, &mut out, &Hooks::NONE);
        write1(y0);
        for &(x, y) in &pairs[1..] {
            anfds[x as usize].events = r;
            b.modify(&mut anfds, x, 0, r, &mut out);
            write1(y);
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut late = 0;
        for _ in 0..4 {
            out.ready.clear();
            b.wait_late = false;
            b.poll(Fds::new(&mut anfds), 1.0, &mut out, &Hooks::NONE);
            late += b.wait_late as u32;
            assert!(!out.rebuild && out.kill.is_empty());
            for &(fd, m) in &out.ready {
                assert_eq!(m, r as i32);
                seen.insert(fd);
            }
            if seen.len() == pairs.len() {
                break;
            }
        }
        let want: std::collections::BTreeSet<_> = pairs.iter().map(|p| p.0).collect();
        assert_eq!(seen, want);
        // Usually 1 (the io-wq CTLs complete after the inline wait); not asserted, as io-wq
        // may win the race.
        eprintln!("late harvests discarded: {late}");
        for (x, y) in pairs {
            sys::close(x);
            sys::close(y);
        }
    }

    /// A ring close is forgotten once its EINTR window is over: no clock read per wait for
    /// the rest of the process. (Other tests close rings concurrently: a newer close may
    /// replace the value, never bring the old one back.)
    #[test]
    fn ring_close_is_forgotten_after_its_window() {
        let old = (sys::monotonic() - RING_CLOSE_WINDOW - 1.0).to_bits();
        RING_CLOSED_AT.store(old, Ordering::Relaxed);
        assert!(resume_deadline(1.0, f64::NEG_INFINITY) > sys::monotonic());
        assert_ne!(RING_CLOSED_AT.load(Ordering::Relaxed), old);
        // The same with the loop's time given.
        RING_CLOSED_AT.store(old, Ordering::Relaxed);
        resume_deadline(1.0, sys::monotonic());
        assert_ne!(RING_CLOSED_AT.load(Ordering::Relaxed), old);
        // Within the window the close is kept.
        let recent = sys::monotonic().to_bits();
        RING_CLOSED_AT.store(recent, Ordering::Relaxed);
        resume_deadline(1.0, f64::NEG_INFINITY);
        let now = RING_CLOSED_AT.load(Ordering::Relaxed);
        assert!(now == recent || f64::from_bits(now) > f64::from_bits(recent));

        // Within the window, the deadline counts from the time the loop gives (no clock
        // read: a clock read would give a later deadline than `since + timeout`), and from
        // the clock when the loop gives none; without a positive timeout there is none.
        // (In this test, not a separate one: the old close stored above could otherwise be
        // forgotten concurrently between a store and a call below.)
        let recent = sys::monotonic();
        RING_CLOSED_AT.store(recent.to_bits(), Ordering::Relaxed);
        let since = recent - 0.25;
        assert_eq!(resume_deadline(2.0, since), since + 2.0);
        let before = sys::monotonic();
        let d = resume_deadline(2.0, f64::NEG_INFINITY);
        assert!(d >= before + 2.0 && d <= sys::monotonic() + 2.0);
        assert_eq!(resume_deadline(0.0, since), f64::NEG_INFINITY);
    }

    /// A timeout so small that the deadline has passed before the first enter: the batch must
    /// still be submitted and the wait cancelled, not reaped without a bound (this hung).
    #[test]
    fn deadline_passed_before_the_first_enter() {
        let Some(mut b) = ext_ring() else {
            return;
        };
        let done = std::sync::Arc::new(core::sync::atomic::AtomicBool::new(false));
        let d2 = done.clone();
        // Watchdog: the bug is an endless wait inside poll().
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(20));
            if !d2.load(core::sync::atomic::Ordering::SeqCst) {
                eprintln!("deadline_passed_before_the_first_enter: poll() did not return");
                std::process::abort();
            }
        });
        let r = EV_READ as u8;
        let pairs: Vec<_> = (0..4).map(|_| pair()).collect();
        let mut anfds = table(256);
        let mut out = PollOut::default();
        for _ in 0..50 {
            // Idle fds (nothing readable): only the timeout can end the wait. 1e-15 s added
            // to the monotonic clock is lost to rounding, so the deadline is already past.
            for &(x, _) in &pairs {
                let ev = r;
                anfds[x as usize].events = ev;
                b.modify(&mut anfds, x, 0, ev, &mut out);
            }
            out.ready.clear();
            b.poll(Fds::new(&mut anfds), 1e-15, &mut out, &Hooks::NONE);
            assert!(!out.rebuild && out.kill.is_empty() && out.ready.is_empty());
            for &(x, _) in &pairs {
                anfds[x as usize].events = 0;
                b.modify(&mut anfds, x, r, 0, &mut out);
            }
        }
        done.store(true, core::sync::atomic::Ordering::SeqCst);
        for (x, y) in pairs {
            sys::close(x);
            sys::close(y);
        }
    }

    /// Drive one backend through add / ready / modify / stale / remove for each mode.
    #[test]
    fn fd_state_machine_each_mode() {
        if !available() {
            return;
        }
        for mode in [Mode::Poll, Mode::EpollCtl, Mode::EpollWait] {
            let Some(mut b) = Uring::build(mode, false) else {
                continue;
            };
            let (x, y) = pair();
            let mut anfds = table(x.max(y) as usize + 1);
            let mut out = PollOut::default();
            let r = EV_READ as u8;
            let w = EV_WRITE as u8;
            // add READ: nothing ready yet
            anfds[x as usize].events = r;
            b.modify(&mut anfds, x, 0, r, &mut out);
            b.poll(Fds::new(&mut anfds), 0.01, &mut out, &Hooks::NONE);
            assert!(out.ready.is_empty(), "{mode:?}: {:?}", out.ready);
            // data → ready (level: reported again while unread)
            write1(y);
            for _ in 0..2 {
                out.ready.clear();
                b.poll(Fds::new(&mut anfds), 0.5, &mut out, &Hooks::NONE);
                assert_eq!(out.ready, vec![(x, r as i32)], "{mode:?}");
            }
            // change to WRITE: only write readiness, old generation never delivered
            let g = anfds[x as usize].egen;
            anfds[x as usize].events = w;
            b.modify(&mut anfds, x, r, w, &mut out);
            assert_ne!(anfds[x as usize].egen, g);
            out.ready.clear();
            b.poll(Fds::new(&mut anfds), 0.5, &mut out, &Hooks::NONE);
            assert_eq!(out.ready, vec![(x, w as i32)], "{mode:?}");
            // stop: nothing delivered any more (stale completions dropped)
            anfds[x as usize].events = 0;
            b.modify(&mut anfds, x, w, 0, &mut out);
            // (epoll modes stop lazily: one unwanted report, which the loop filters, then
            // the registration is narrowed with the next batch)
            for i in 0..3 {
                out.ready.clear();
                b.poll(Fds::new(&mut anfds), 0.0, &mut out, &Hooks::NONE);
                if i > 0 || mode == Mode::Poll {
                    assert!(out.ready.is_empty(), "{mode:?}: {:?}", out.ready);
                }
            }
            assert!(!out.rebuild, "{mode:?}");
            assert!(out.kill.is_empty());
            sys::close(x);
            sys::close(y);
        }
    }

    /// A small batch (`reify_begin` with at most `small_batch()` fds) is applied in `modify`
    /// itself, as the epoll backend does: nothing is recorded, a bad fd is rejected at once
    /// (`out.kill`, so `fd_reify` stops its watchers before the loop picks its timeout), a
    /// regular file goes on the always-ready list at once, and a re-registration with the same
    /// mask keeps its generation. A larger batch is recorded for the poll.
    #[test]
    fn small_batches_apply_at_once() {
        if !available() {
            return;
        }
        if small_batch() < 2 {
            return; // EVRING_URING_SMALL set below the two changes used here
        }
        for mode in [Mode::EpollCtl, Mode::EpollWait] {
            let Some(mut b) = Uring::build(mode, false) else {
                continue;
            };
            let (x, y) = pair();
            // A regular file (epoll refuses it: EPERM).
            let path = std::env::temp_dir().join(format!("evring-ut-{}", std::process::id()));
            let reg = std::os::fd::IntoRawFd::into_raw_fd(std::fs::File::create(&path).unwrap());
            let _ = std::fs::remove_file(&path);
            // A number nothing has open.
            // SAFETY: F_GETFD on any number is harmless.
            let bad = (900..1000)
                .find(|&n| unsafe { libc::fcntl(n, libc::F_GETFD) } < 0)
                .unwrap();
            let mut anfds = table(bad as usize + 1);
            let mut out = PollOut::default();
            let r = EV_READ as u8;
            anfds[x as usize].events = r;
            b.reify_begin(1);
            b.modify(&mut anfds, x, 0, r, &mut out);
            assert!(b.changes.is_empty(), "{mode:?}: recorded, not applied");
            let g = anfds[x as usize].egen;
            // Registered already: another ADD finds it.
            assert!(!b.ctl(libc::EPOLL_CTL_ADD, x, r, 0));
            assert_eq!(sys::errno(), libc::EEXIST);
            // Re-registration with the same mask: EEXIST, generation kept.
            b.reify_begin(1);
            b.modify(&mut anfds, x, r, r, &mut out);
            assert_eq!(anfds[x as usize].egen, g, "{mode:?}");
            // A bad fd and a regular file, two changes of one small batch.
            anfds[bad as usize].events = r;
            anfds[reg as usize].events = r;
            b.reify_begin(2);
            b.modify(&mut anfds, bad, 0, r, &mut out);
            b.modify(&mut anfds, reg, 0, r, &mut out);
            assert!(b.changes.is_empty(), "{mode:?}");
            assert_eq!(out.kill, vec![bad], "{mode:?}");
            assert_eq!(b.eperms, vec![reg], "{mode:?}");
            out.kill.clear();
            // Events flow; the regular file is reported as always ready.
            write1(y);
            b.poll(Fds::new(&mut anfds), 0.5, &mut out, &Hooks::NONE);
            let mut got = out.ready.clone();
            got.sort();
            let mut want = vec![(x, r as i32), (reg, r as i32)];
            want.sort();
            assert_eq!(got, want, "{mode:?}");
            // A batch larger than a small one is recorded for the poll.
            let (p, q) = pair();
            let mut anfds2 = table(p.max(q) as usize + 1);
            b.reify_begin(small_batch() + 1);
            anfds2[p as usize].events = r;
            b.modify(&mut anfds2, p, 0, r, &mut out);
            assert_eq!(b.changes.len(), 1, "{mode:?}");
            b.changes.clear();
            for fd in [x, y, reg, p, q] {
                sys::close(fd);
            }
        }
    }

    /// ev_io_set on the same file (ADD of a registered fd → EEXIST) keeps events flowing.
    #[test]
    fn eexist_keeps_old_generation() {
        if !available() {
            return;
        }
        for mode in [Mode::EpollCtl, Mode::EpollWait] {
            let Some(mut b) = Uring::build(mode, false) else {
                continue;
            };
            let (x, y) = pair();
            let (p, q) = pair();
            let mut anfds = table(64);
            let mut out = PollOut::default();
            let r = EV_READ as u8;
            for fd in [x, p] {
                anfds[fd as usize].events = r;
                b.modify(&mut anfds, fd, 0, r, &mut out);
            }
            b.poll(Fds::new(&mut anfds), 0.0, &mut out, &Hooks::NONE);
            write1(y);
            // forced re-registration, same mask, together with another change (batched)
            b.modify(&mut anfds, x, r, r, &mut out);
            b.modify(&mut anfds, p, r, r, &mut out);
            out.ready.clear();
            b.poll(Fds::new(&mut anfds), 0.5, &mut out, &Hooks::NONE);
            assert_eq!(out.ready, vec![(x, r as i32)], "{mode:?}");
            assert!(!out.rebuild, "{mode:?}");
            for fd in [x, y, p, q] {
                sys::close(fd);
            }
        }
    }

    /// In a forked child the backend never touches the parent's ring: modify is ignored,
    /// poll asks for a rebuild without waiting, and recreate gives a working new ring.
    #[test]
    fn forked_child_rebuilds() {
        if !available() {
            return;
        }
        for mode in [Mode::Poll, Mode::EpollCtl, Mode::EpollWait] {
            let Some(mut b) = Uring::build(mode, false) else {
                continue;
            };
            let (x, y) = pair();
            let mut anfds = table(64);
            let mut out = PollOut::default();
            let r = EV_READ as u8;
            anfds[x as usize].events = r;
            b.modify(&mut anfds, x, 0, r, &mut out);
            b.poll(Fds::new(&mut anfds), 0.0, &mut out, &Hooks::NONE);
            // SAFETY: plain fork; the child only runs code that is fork-safe here
            // (no other threads are touched) and ends with _exit.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0);
            if pid == 0 {
                let mut ok = true;
                let g = anfds[x as usize].egen;
                b.modify(&mut anfds, x, r, r, &mut out);
                ok &= anfds[x as usize].egen == g; // ignored: not our ring
                let t0 = sys::monotonic();
                let mut o = PollOut::default();
                b.poll(Fds::new(&mut anfds), 5.0, &mut o, &Hooks::NONE);
                ok &= o.rebuild && o.ready.is_empty() && sys::monotonic() - t0 < 1.0;
                ok &= b.recreate();
                anfds[x as usize].eflags = 0;
                b.modify(&mut anfds, x, 0, r, &mut out);
                write1(y);
                let mut o = PollOut::default();
                b.poll(Fds::new(&mut anfds), 1.0, &mut o, &Hooks::NONE);
                ok &= o.ready == vec![(x, r as i32)];
                drop(b);
                // SAFETY: ends the child without running the test harness's atexit code.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) };
            }
            let mut st = 0;
            // SAFETY: waiting for our own child.
            assert_eq!(unsafe { libc::waitpid(pid, &mut st, 0) }, pid);
            assert!(
                libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
                "{mode:?}"
            );
            // the parent's ring is intact
            let mut c = 0u8;
            // SAFETY: draining the byte the child wrote (shared socket).
            unsafe { libc::recv(x, &mut c as *mut u8 as *mut _, 1, libc::MSG_DONTWAIT) };
            write1(y);
            out.ready.clear();
            b.poll(Fds::new(&mut anfds), 1.0, &mut out, &Hooks::NONE);
            assert_eq!(out.ready, vec![(x, r as i32)], "{mode:?}");
            assert!(!out.rebuild);
            sys::close(x);
            sys::close(y);
        }
    }
}
