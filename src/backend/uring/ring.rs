//! A minimal io_uring ring owned by us (SQ/CQ mappings, enter, register), instead of the
//! io-uring crate's `IoUring`, whose `Drop` unconditionally closes the fd number it was
//! built with. The crate is still used for the SQE builders (`opcode::*`).
//!
//! Why our own: the ring fd has to live at a protected high number, may be closed or
//! replaced (`dup2`) by the application, and on destroy we must close it only while the
//! number still names our ring. So:
//!
//! * `io_uring_setup` is called here, the fd is moved to a high number (`sys::protect_fd`)
//!   before anything else refers to it, and the SQ/CQ/SQE areas are mapped from it
//!   (`MADV_DONTFORK` unless under valgrind, as before).
//! * The ring fd is registered (`IORING_REGISTER_RING_FDS`, 5.18+), and the thread that
//!   registered it enters with `IORING_ENTER_REGISTERED_RING`: no fd-table lookup at all,
//!   so closing or reusing the number cannot disturb the loop. Registrations are per task
//!   (thread): another thread (the loop moved, libev allows it serially) or a forked child
//!   would find nothing, or another ring, at that index, so only the registering thread
//!   uses it ([`thread_token`]); everyone else enters through the fd.
//! * The identity of the ring file is recorded at creation (`st_dev`, `st_ino`: every ring
//!   has its own anonymous inode since Linux 6.x -- measured on 6.18: three rings, three
//!   inode numbers; on older kernels all io_uring files share one inode, so the check then
//!   only tells "still an io_uring file" from "something else"). [`Ring::release`] closes the
//!   number only when it still names that file.
//! * The mappings keep the ring alive on their own: whatever happened to the number, we
//!   unmap them (in the process that made them) and, on the registering thread, unregister
//!   the index, which drops the last references.

use crate::sys;
use core::ffi::c_int;
use core::ptr;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use io_uring::squeue;

// Kernel ABI (include/uapi/linux/io_uring.h). The libc crate does not define these.
const SETUP_CQSIZE: u32 = 1 << 3;
const SETUP_CLAMP: u32 = 1 << 4;
const SETUP_SUBMIT_ALL: u32 = 1 << 7;
const SETUP_COOP_TASKRUN: u32 = 1 << 8;
const SETUP_TASKRUN_FLAG: u32 = 1 << 9;

const FEAT_SINGLE_MMAP: u32 = 1 << 0;
pub const FEAT_NODROP: u32 = 1 << 1;
pub const FEAT_EXT_ARG: u32 = 1 << 8;
const FEAT_REG_REG_RING: u32 = 1 << 13;

const OFF_SQ_RING: i64 = 0;
const OFF_CQ_RING: i64 = 0x800_0000;
const OFF_SQES: i64 = 0x1000_0000;

const SQ_CQ_OVERFLOW: u32 = 1 << 1;
const SQ_TASKRUN: u32 = 1 << 2;

pub const ENTER_GETEVENTS: u32 = 1 << 0;
const ENTER_EXT_ARG: u32 = 1 << 3;
const ENTER_REGISTERED_RING: u32 = 1 << 4;

const REGISTER_PROBE: u32 = 8;
const REGISTER_RING_FDS: u32 = 20;
const UNREGISTER_RING_FDS: u32 = 21;
const REGISTER_SYNC_CANCEL: u32 = 24;
const REGISTER_USE_REGISTERED_RING: u32 = 1 << 31;

const CANCEL_ALL: u32 = 1 << 0;
const CANCEL_ANY: u32 = 1 << 2;

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct SqOffsets {
    head: u32,
    tail: u32,
    ring_mask: u32,
    ring_entries: u32,
    flags: u32,
    dropped: u32,
    array: u32,
    resv1: u32,
    user_addr: u64,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CqOffsets {
    head: u32,
    tail: u32,
    ring_mask: u32,
    ring_entries: u32,
    overflow: u32,
    cqes: u32,
    flags: u32,
    resv1: u32,
    user_addr: u64,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct Params {
    sq_entries: u32,
    cq_entries: u32,
    flags: u32,
    sq_thread_cpu: u32,
    sq_thread_idle: u32,
    features: u32,
    wq_fd: u32,
    resv: [u32; 3],
    sq_off: SqOffsets,
    cq_off: CqOffsets,
}
const _: () = assert!(core::mem::size_of::<Params>() == 120);

#[repr(C)]
struct KernelTimespec {
    sec: i64,
    nsec: i64,
}

#[repr(C)]
struct GeteventsArg {
    sigmask: u64,
    sigmask_sz: u32,
    min_wait_usec: u32,
    ts: u64,
}

#[repr(C)]
struct RsrcUpdate {
    offset: u32,
    resv: u32,
    data: u64,
}

#[repr(C)]
struct SyncCancelReg {
    addr: u64,
    fd: i32,
    flags: u32,
    timeout: KernelTimespec,
    opcode: u8,
    pad: [u8; 7],
    pad2: [u64; 3],
}
const _: () = assert!(core::mem::size_of::<SyncCancelReg>() == 64);

#[repr(C)]
#[derive(Clone, Copy)]
struct ProbeOp {
    op: u8,
    resv: u8,
    flags: u16,
    resv2: u32,
}

#[repr(C)]
struct ProbeBuf {
    last_op: u8,
    ops_len: u8,
    resv: u16,
    resv2: [u32; 3],
    ops: [ProbeOp; 256],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Cqe {
    user_data: u64,
    res: i32,
    flags: u32,
}

const _: () = assert!(core::mem::size_of::<squeue::Entry>() == 64);

/// The kernel's `struct io_uring_sqe` with the fields our hot paths set (the rest zero):
/// written directly instead of through the crate's builders, which cost ~20 instructions per
/// SQE more (build a zeroed entry, copy it, clone it into the ring).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawSqe {
    pub opcode: u8,
    pub flags: u8,
    pub ioprio: u16,
    pub fd: i32,
    pub off: u64,
    pub addr: u64,
    pub len: u32,
    pub op_flags: u32,
    pub user_data: u64,
    pub tail: [u64; 3],
}
const _: () = assert!(core::mem::size_of::<RawSqe>() == 64);

/// A per-thread token, never reused while the process lives (unlike `pthread_self`, whose
/// values come back for new threads): a registered ring index is valid only on the thread
/// whose token was recorded. A forked child inherits the forking thread's token but not
/// its registrations; the backend never enters a ring in a process that did not make it.
pub fn thread_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    std::thread_local! {
        static TOKEN: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
    }
    TOKEN.with(|t| {
        let v = t.get();
        if v != 0 {
            return v;
        }
        let v = NEXT.fetch_add(1, Ordering::Relaxed);
        t.set(v);
        v
    })
}

struct Map {
    addr: *mut libc::c_void,
    len: usize,
}

/// One mapping of the ring fd at `off`.
fn map(fd: c_int, off: i64, len: usize, dontfork: bool) -> Result<Map, c_int> {
    // SAFETY: a fresh shared mapping of an io_uring fd; the kernel checks offset and size.
    let addr = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_POPULATE,
            fd,
            off,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(sys::errno());
    }
    if dontfork {
        // SAFETY: advising our own fresh mapping. A child then has no mapping at all and
        // cannot touch the parent's queues, even by mistake.
        unsafe { libc::madvise(addr, len, libc::MADV_DONTFORK) };
    }
    Ok(Map { addr, len })
}

fn unmap(m: &Map) {
    // SAFETY: unmapping a mapping we made and no longer reference.
    unsafe { libc::munmap(m.addr, m.len) };
}

pub fn file_id(fd: c_int) -> Option<(u64, u64)> {
    // SAFETY: all-zero is a valid `stat`.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    if crate::sys::fstat(fd, &mut st) != 0 {
        return None;
    }
    Some((st.st_dev, st.st_ino))
}

fn setup(entries: u32, p: &mut Params) -> Result<c_int, c_int> {
    // SAFETY: io_uring_setup with a valid params struct of the kernel's layout.
    let r = unsafe {
        libc::syscall(
            libc::SYS_io_uring_setup,
            entries as libc::c_ulong,
            p as *mut Params,
        )
    };
    if r < 0 {
        Err(sys::errno())
    } else {
        Ok(r as c_int)
    }
}

pub struct Ring {
    fd: c_int,
    /// (st_dev, st_ino) of the ring file, recorded at creation.
    id: Option<(u64, u64)>,
    /// Registered index (valid on thread `reg_token` only), or -1.
    reg: c_int,
    reg_token: u64,
    /// Cleared when the registering thread exits (then its slots are gone already).
    reg_alive: Option<orphans::Alive>,
    features: u32,
    sq_entries: u32,
    cq_entries: u32,
    maps: [Option<Map>; 3],
    sq_head: *const AtomicU32,
    sq_tail: *const AtomicU32,
    sq_mask: u32,
    sq_flags: *const AtomicU32,
    sqes: *mut squeue::Entry,
    /// Our copy of the SQ tail (published at every push).
    tail: u32,
    cq_head: *const AtomicU32,
    cq_tail: *const AtomicU32,
    cq_mask: u32,
    cqes: *const Cqe,
}

// SAFETY: the raw pointers point into mappings owned by this value; a loop (and so its
// ring) is used by one thread at a time, as libev requires.
unsafe impl Send for Ring {}

impl Ring {
    /// `io_uring_setup` (flags COOP_TASKRUN|TASKRUN_FLAG|SUBMIT_ALL when `rich`), the fd
    /// moved high, the areas mapped, the fd registered when the kernel can.
    pub fn new(sq: u32, cq: u32, rich: bool, dontfork: bool) -> Result<Ring, c_int> {
        let mut p = Params {
            cq_entries: cq,
            flags: SETUP_CQSIZE | SETUP_CLAMP,
            ..Params::default()
        };
        if rich {
            p.flags |= SETUP_SUBMIT_ALL | SETUP_COOP_TASKRUN | SETUP_TASKRUN_FLAG;
        }
        let fd = sys::protect_fd(setup(sq, &mut p)?);
        let mut r = Ring {
            fd,
            id: file_id(fd),
            reg: -1,
            reg_token: 0,
            reg_alive: None,
            features: p.features,
            sq_entries: p.sq_entries,
            cq_entries: p.cq_entries,
            maps: [None, None, None],
            sq_head: ptr::null(),
            sq_tail: ptr::null(),
            sq_mask: 0,
            sq_flags: ptr::null(),
            sqes: ptr::null_mut(),
            tail: 0,
            cq_head: ptr::null(),
            cq_tail: ptr::null(),
            cq_mask: 0,
            cqes: ptr::null(),
        };
        // On error `r` is dropped: unmaps what was mapped and closes the fd.
        r.map_all(&p, dontfork)?;
        r.register_self();
        Ok(r)
    }

    fn map_all(&mut self, p: &Params, dontfork: bool) -> Result<(), c_int> {
        let sq_len = p.sq_off.array as usize + p.sq_entries as usize * 4;
        let cq_len = p.cq_off.cqes as usize + p.cq_entries as usize * core::mem::size_of::<Cqe>();
        let single = p.features & FEAT_SINGLE_MMAP != 0;
        let sq_map = map(
            self.fd,
            OFF_SQ_RING,
            if single { sq_len.max(cq_len) } else { sq_len },
            dontfork,
        )?;
        let sq_base = sq_map.addr as *mut u8;
        self.maps[0] = Some(sq_map);
        let cq_base = if single {
            sq_base
        } else {
            let m = map(self.fd, OFF_CQ_RING, cq_len, dontfork)?;
            let b = m.addr as *mut u8;
            self.maps[1] = Some(m);
            b
        };
        let sqe_map = map(
            self.fd,
            OFF_SQES,
            p.sq_entries as usize * core::mem::size_of::<squeue::Entry>(),
            dontfork,
        )?;
        self.sqes = sqe_map.addr as *mut squeue::Entry;
        self.maps[2] = Some(sqe_map);
        // SAFETY: the kernel's offsets lie inside the mappings just made (it sized them).
        unsafe {
            let o = &p.sq_off;
            self.sq_head = sq_base.add(o.head as usize) as *const AtomicU32;
            self.sq_tail = sq_base.add(o.tail as usize) as *const AtomicU32;
            self.sq_mask = *(sq_base.add(o.ring_mask as usize) as *const u32);
            self.sq_flags = sq_base.add(o.flags as usize) as *const AtomicU32;
            // SQ slot i always holds SQE i (as liburing does): written once here.
            let array = sq_base.add(o.array as usize) as *mut u32;
            for i in 0..p.sq_entries {
                *array.add(i as usize) = i;
            }
            self.tail = (*self.sq_tail).load(Ordering::Relaxed);
            let o = &p.cq_off;
            self.cq_head = cq_base.add(o.head as usize) as *const AtomicU32;
            self.cq_tail = cq_base.add(o.tail as usize) as *const AtomicU32;
            self.cq_mask = *(cq_base.add(o.ring_mask as usize) as *const u32);
            self.cqes = cq_base.add(o.cqes as usize) as *const Cqe;
        }
        Ok(())
    }

    /// IORING_REGISTER_RING_FDS (5.18+; failure just leaves enters on the fd). First frees
    /// this thread's slots whose rings other threads released ([`orphans`]).
    fn register_self(&mut self) {
        orphans::sweep(self.fd, self.features & FEAT_REG_REG_RING != 0);
        let mut up = RsrcUpdate {
            offset: u32::MAX, // any free slot
            resv: 0,
            data: self.fd as u64,
        };
        // SAFETY: one valid io_uring_rsrc_update.
        let r = unsafe { self.register_raw(REGISTER_RING_FDS, &mut up as *mut _ as *mut _, 1) };
        if r >= 1 {
            self.reg = up.offset as c_int;
            self.reg_token = thread_token();
            self.reg_alive = orphans::watch_thread_exit();
        }
    }

    /// The registered index if this thread registered it.
    #[inline]
    fn my_index(&self) -> Option<c_int> {
        (self.reg >= 0 && self.reg_token == thread_token()).then_some(self.reg)
    }

    /// The ring's fd number, for a thread that has no registered index (the loop moved to
    /// another thread): only while the number still names our ring. The application may
    /// have closed it and another ring (another loop's, or its own) taken the number:
    /// entering that one would submit our SQEs to it and wait on its completion queue (found
    /// by review: a busy loop, and the other loop's wait cancelled). Every io_uring file has
    /// its own inode, so `fstat` tells; one system call per enter, on such threads only.
    /// -EBADF when the number is not ours: the backend then rebuilds a ring
    /// (`ring_number_gone`).
    #[cold]
    #[inline(never)]
    fn number_checked(&self) -> Result<c_int, c_int> {
        if self.id.is_some() && file_id(self.fd) != self.id {
            return Err(-libc::EBADF);
        }
        Ok(self.fd)
    }

    /// Whether this thread enters through the registered index (for tests and reports).
    pub fn registered_here(&self) -> bool {
        self.my_index().is_some()
    }

    /// # Safety
    /// `arg` must match `op` and `nr` as the kernel expects.
    unsafe fn register_raw(&self, op: u32, arg: *mut libc::c_void, nr: u32) -> c_int {
        let (fd, op) = match self.my_index() {
            Some(i) if self.features & FEAT_REG_REG_RING != 0 => {
                (i, op | REGISTER_USE_REGISTERED_RING)
            }
            Some(_) | None => match self.number_checked() {
                Ok(fd) => (fd, op),
                Err(e) => return e,
            },
        };
        // SAFETY: the caller vouches for `arg`.
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                fd as libc::c_long,
                op as libc::c_long,
                arg,
                nr as libc::c_long,
            )
        };
        if r < 0 {
            -sys::errno()
        } else {
            r as c_int
        }
    }

    pub fn fd(&self) -> c_int {
        self.fd
    }

    pub fn features(&self) -> u32 {
        self.features
    }

    pub fn cq_entries(&self) -> u32 {
        self.cq_entries
    }

    /// Opcodes supported (IORING_REGISTER_PROBE); `None` when the probe itself fails.
    pub fn probe(&self, ops: &[u8]) -> Option<Vec<bool>> {
        // SAFETY: all-zero is a valid ProbeBuf.
        let mut buf: Box<ProbeBuf> = Box::new(unsafe { core::mem::zeroed() });
        // SAFETY: buffer with room for 256 ops.
        let r = unsafe { self.register_raw(REGISTER_PROBE, &mut *buf as *mut _ as *mut _, 256) };
        if r < 0 {
            return None;
        }
        Some(
            ops.iter()
                .map(|&op| {
                    op <= buf.last_op
                        && (op as usize) < buf.ops_len as usize
                        && buf.ops[op as usize].flags & 1 != 0
                })
                .collect(),
        )
    }

    /// Synchronous cancel of the request tagged `ud` (IORING_REGISTER_SYNC_CANCEL, 6.0+).
    pub fn sync_cancel(&self, ud: u64) -> c_int {
        let mut arg = SyncCancelReg {
            addr: ud,
            fd: -1,
            flags: 0,
            timeout: KernelTimespec { sec: -1, nsec: -1 },
            opcode: 0,
            pad: [0; 7],
            pad2: [0; 3],
        };
        // SAFETY: one valid io_uring_sync_cancel_reg.
        unsafe { self.register_raw(REGISTER_SYNC_CANCEL, &mut arg as *mut _ as *mut _, 1) }
    }

    /// Cancel every request in the ring (IORING_ASYNC_CANCEL_ALL | _ANY), through the fd
    /// while it still names our ring.
    fn sync_cancel_all(&self) {
        if self.id.is_none() || file_id(self.fd) != self.id {
            return;
        }
        let mut arg = SyncCancelReg {
            addr: 0,
            fd: -1,
            flags: CANCEL_ALL | CANCEL_ANY,
            timeout: KernelTimespec { sec: -1, nsec: -1 },
            opcode: 0,
            pad: [0; 7],
            pad2: [0; 3],
        };
        // SAFETY: one valid io_uring_sync_cancel_reg, through our own ring fd (not the
        // index: this thread has none).
        unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                self.fd as libc::c_long,
                REGISTER_SYNC_CANCEL as libc::c_long,
                &mut arg as *mut SyncCancelReg,
                1 as libc::c_long,
            )
        };
    }

    // -------------------------------------------------------------- submission queue

    /// Queued, not yet submitted SQEs.
    #[inline]
    pub fn sq_len(&self) -> u32 {
        // SAFETY: sq_head points into our live mapping; the kernel advances it.
        let head = unsafe { (*self.sq_head).load(Ordering::Acquire) };
        self.tail.wrapping_sub(head)
    }

    /// Queue one SQE; false when the SQ is full.
    #[inline]
    pub fn push(&mut self, e: &squeue::Entry) -> bool {
        if self.sq_len() >= self.sq_entries {
            return false;
        }
        let idx = (self.tail & self.sq_mask) as usize;
        // SAFETY: slot `idx` is ours until the tail is published (the kernel consumed it:
        // sq_len < entries); `squeue::Entry` is the kernel's 64-byte SQE (asserted above).
        unsafe {
            ptr::write(self.sqes.add(idx), e.clone());
            self.tail = self.tail.wrapping_add(1);
            (*self.sq_tail).store(self.tail, Ordering::Release);
        }
        true
    }

    /// Free SQ slots right now (one acquire load of the kernel's head).
    #[inline]
    pub fn sq_space(&self) -> u32 {
        self.sq_entries - self.sq_len()
    }

    /// Queue one raw SQE. The caller has checked [`Ring::sq_space`] (at least one slot).
    /// The tail is published at once (a plain release store: cheap on x86).
    #[inline]
    pub fn push_raw(&mut self, e: RawSqe) {
        debug_assert!(self.sq_len() < self.sq_entries);
        let idx = (self.tail & self.sq_mask) as usize;
        // SAFETY: slot `idx` is free (the caller checked the space: the kernel consumed it);
        // `RawSqe` has the kernel's 64-byte SQE layout (asserted), as does `squeue::Entry`.
        unsafe {
            ptr::write(self.sqes.add(idx) as *mut RawSqe, e);
            self.tail = self.tail.wrapping_add(1);
            (*self.sq_tail).store(self.tail, Ordering::Release);
        }
    }

    /// Write one raw SQE into the next slot without publishing it: the kernel sees it only
    /// after [`Ring::publish`] (one release store for a whole batch).
    ///
    /// # Safety
    /// The caller has checked that [`Ring::sq_space`] covers every SQE written before the
    /// next `publish`, and that any memory the SQE points to outlives its completion.
    #[inline(always)]
    pub unsafe fn write_unpublished(&mut self, e: RawSqe) {
        let idx = (self.tail & self.sq_mask) as usize;
        // SAFETY: slot `idx` is free (the caller checked the space); `RawSqe` has the
        // kernel's SQE layout.
        unsafe { ptr::write(self.sqes.add(idx) as *mut RawSqe, e) };
        self.tail = self.tail.wrapping_add(1);
    }

    /// Publish the SQEs written by [`Ring::write_unpublished`].
    #[inline]
    pub fn publish(&mut self) {
        // SAFETY: sq_tail points into our live mapping; the slots up to `tail` are written.
        unsafe { (*self.sq_tail).store(self.tail, Ordering::Release) };
    }

    #[inline]
    fn sq_flags(&self) -> u32 {
        // SAFETY: pointer into our live mapping.
        unsafe { (*self.sq_flags).load(Ordering::Acquire) }
    }

    /// The kernel holds completions that did not fit into the CQ (FEAT_NODROP).
    #[inline]
    pub fn cq_overflow(&self) -> bool {
        self.sq_flags() & SQ_CQ_OVERFLOW != 0
    }

    /// `io_uring_enter(to_submit, min_complete, flags)` with an optional EXT_ARG timeout
    /// (ns). Returns the kernel's result or `-errno`.
    pub fn enter(
        &self,
        to_submit: u32,
        min_complete: u32,
        flags: u32,
        timeout_ns: Option<u64>,
    ) -> c_int {
        let ts;
        let arg;
        let (mut flags, argp, argsz) = match timeout_ns {
            Some(ns) => {
                ts = KernelTimespec {
                    sec: (ns / 1_000_000_000) as i64,
                    nsec: (ns % 1_000_000_000) as i64,
                };
                arg = GeteventsArg {
                    sigmask: 0,
                    sigmask_sz: 0,
                    min_wait_usec: 0,
                    ts: &ts as *const KernelTimespec as u64,
                };
                (
                    flags | ENTER_EXT_ARG,
                    &arg as *const GeteventsArg as *const libc::c_void,
                    core::mem::size_of::<GeteventsArg>(),
                )
            }
            None => (flags, ptr::null(), 0),
        };
        let fd = match self.my_index() {
            Some(i) => {
                flags |= ENTER_REGISTERED_RING;
                i
            }
            None => match self.number_checked() {
                Ok(fd) => fd,
                Err(e) => return e,
            },
        };
        // SAFETY: io_uring_enter with either no argument or a valid getevents arg that
        // lives until the call returns.
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_uring_enter,
                fd as libc::c_long,
                to_submit as libc::c_long,
                min_complete as libc::c_long,
                flags as libc::c_long,
                argp,
                argsz as libc::c_long,
            )
        };
        if r < 0 {
            -sys::errno()
        } else {
            r as c_int
        }
    }

    /// Hand the queued SQEs to the kernel without waiting (GETEVENTS when task work or an
    /// overflow backlog is pending, so those complete as well).
    pub fn submit(&self) -> c_int {
        let f = self.sq_flags();
        let flags = if f & (SQ_CQ_OVERFLOW | SQ_TASKRUN) != 0 {
            ENTER_GETEVENTS
        } else {
            0
        };
        self.enter(self.sq_len(), 0, flags, None)
    }

    // -------------------------------------------------------------- completion queue

    #[inline]
    pub fn cq_is_empty(&self) -> bool {
        // SAFETY: pointers into our live mapping.
        unsafe {
            (*self.cq_head).load(Ordering::Relaxed) == (*self.cq_tail).load(Ordering::Acquire)
        }
    }

    /// Consume every CQE in the ring: `f(user_data, res)`.
    #[inline]
    pub fn reap(&mut self, mut f: impl FnMut(u64, i32)) {
        // SAFETY: pointers into our live mapping; entries between head and tail were
        // published by the kernel (Acquire on tail), and we release them by storing head.
        unsafe {
            let mut head = (*self.cq_head).load(Ordering::Relaxed);
            let tail = (*self.cq_tail).load(Ordering::Acquire);
            while head != tail {
                let c = *self.cqes.add((head & self.cq_mask) as usize);
                f(c.user_data, c.res);
                head = head.wrapping_add(1);
            }
            (*self.cq_head).store(head, Ordering::Release);
        }
    }

    // -------------------------------------------------------------- teardown

    /// Release everything. `own_process`: this process made the ring (else it is a forked
    /// child: the mappings are the parent's or absent, the registration is not ours).
    /// The fd number is closed only while it still names our ring file: the application
    /// may have closed it, or made it name one of its own files.
    pub fn release(&mut self, own_process: bool) {
        if own_process {
            if self.reg >= 0 && self.my_index().is_none() {
                // Registered by another thread (the loop moved): that thread's slot keeps
                // the ring alive until the thread frees it, so cancel whatever is still
                // armed (poll strategy) now, or it would keep the application's files
                // referenced; then tell that thread to free the slot ([`orphans`]).
                self.sync_cancel_all();
                if let Some(alive) = &self.reg_alive {
                    orphans::push(self.reg_token, self.reg, alive.flag());
                }
            }
            for m in self.maps.iter_mut() {
                if let Some(m) = m.take() {
                    unmap(&m);
                }
            }
            self.unregister_here();
        } else {
            for m in self.maps.iter_mut() {
                // Not ours to unmap (valgrind keeps the parent's) or already absent.
                let _ = m.take();
            }
        }
        self.reg = -1;
        if self.fd >= 0 {
            if self.id.is_some() && file_id(self.fd) == self.id {
                sys::close(self.fd);
            }
            self.fd = -1;
        }
    }

    /// Drop this thread's registration of the ring, if it has one.
    fn unregister_here(&mut self) {
        {
            if let Some(i) = self.my_index() {
                // The registration table is per thread, whichever ring the call names:
                // through the index itself when the kernel allows (6.3+), else through the
                // fd while it is still ours. Otherwise the slot stays until the thread
                // exits (the ring is freed then).
                let mut up = RsrcUpdate {
                    offset: i as u32,
                    resv: 0,
                    data: 0,
                };
                let via = if self.features & FEAT_REG_REG_RING != 0 {
                    Some((i, UNREGISTER_RING_FDS | REGISTER_USE_REGISTERED_RING))
                } else if self.id.is_some() && file_id(self.fd) == self.id {
                    Some((self.fd, UNREGISTER_RING_FDS))
                } else {
                    None
                };
                if let Some((fd, op)) = via {
                    // SAFETY: one valid io_uring_rsrc_update naming our slot.
                    unsafe {
                        libc::syscall(
                            libc::SYS_io_uring_register,
                            fd as libc::c_long,
                            op as libc::c_long,
                            &mut up as *mut RsrcUpdate,
                            1 as libc::c_long,
                        )
                    };
                }
            }
        }
        self.reg = -1;
    }

    /// Set the ring aside for a loop of any thread: the thread that made it gives up its
    /// registration (the spare ring of the io_uring probe), so that the thread whose loop
    /// takes it registers it for itself ([`Ring::adopt`]) and enters through its index.
    /// (Else every enter of that loop went through the number, with an `fstat` to check it:
    /// found by review.)
    pub fn set_aside(&mut self) {
        self.unregister_here();
    }

    /// Register the ring for the calling thread unless it already is (see [`Ring::set_aside`]).
    pub fn adopt(&mut self) {
        if self.reg < 0 {
            self.register_self();
        }
    }
}

/// Registered-ring slots of rings released by a thread that did not register them.
///
/// A ring registration belongs to the registering thread's io_uring context and holds the
/// ring file: only that thread can drop it. A loop destroyed on another thread (libev lets a
/// loop move between threads) used to leave its whole ring alive in the registering
/// thread's table until that thread exited; after 16 such loops the thread's new rings could
/// not be registered at all (their enters then went through the fd number, with an `fstat`
/// each). The releasing thread records (token, index) here; the registering thread frees
/// its slots the next time it registers a ring ([`Ring::register_self`]), and the entries
/// of a thread are dropped when it exits (the kernel frees its slots then).
///
/// A fixed table of atomics, no lock: a lock held by another thread at `fork` would
/// deadlock the child. Should the table be full, the slot stays until its thread exits (as
/// before). A forked child inherits the entries; they name slots of the child's threads
/// only by token, and the child's first registration on such a thread sweeps them while
/// its table is still empty (unregistering an empty slot does nothing).
pub mod orphans {
    use super::*;
    use core::sync::atomic::{AtomicBool, AtomicUsize};

    /// A shared "thread still alive" flag: the registering thread's exit guard holds one
    /// reference, each ring it registered another.
    ///
    /// Allocated with the C library's `malloc`, not through `ev_set_allocator`'s allocator:
    /// the thread's reference outlives every loop (it lives as long as the thread), and a
    /// program that counts its allocator's blocks expects none left after
    /// `ev_loop_destroy`, as with libev (t_alloc_syserr caught an `Arc` here).
    pub struct Alive(core::ptr::NonNull<AliveInner>);

    pub struct AliveInner {
        refs: AtomicUsize,
        alive: AtomicBool,
    }

    // SAFETY: the pointee is only atomics, shared by design; the refcount frees it once.
    unsafe impl Send for Alive {}
    // SAFETY: as above.
    unsafe impl Sync for Alive {}

    impl Alive {
        fn new() -> Option<Alive> {
            // SAFETY: plain allocation of a POD-sized block; checked for NULL below.
            let p = unsafe { libc::malloc(core::mem::size_of::<AliveInner>()) } as *mut AliveInner;
            let p = core::ptr::NonNull::new(p)?;
            // SAFETY: fresh, suitably aligned (malloc) block of the right size.
            unsafe {
                p.as_ptr().write(AliveInner {
                    refs: AtomicUsize::new(1),
                    alive: AtomicBool::new(true),
                })
            };
            Some(Alive(p))
        }

        pub fn flag(&self) -> &AtomicBool {
            // SAFETY: the block lives while any reference (this one) does.
            unsafe { &self.0.as_ref().alive }
        }
    }

    impl Clone for Alive {
        fn clone(&self) -> Alive {
            // SAFETY: as in `flag`.
            unsafe { self.0.as_ref() }
                .refs
                .fetch_add(1, Ordering::Relaxed);
            Alive(self.0)
        }
    }

    impl Drop for Alive {
        fn drop(&mut self) {
            // SAFETY: as in `flag`; the last reference frees the block, once.
            unsafe {
                if self.0.as_ref().refs.fetch_sub(1, Ordering::AcqRel) == 1 {
                    libc::free(self.0.as_ptr() as *mut libc::c_void);
                }
            }
        }
    }

    const SLOTS: usize = 64;
    #[allow(clippy::declare_interior_mutable_const)]
    const EMPTY: AtomicU64 = AtomicU64::new(0);
    static TABLE: [AtomicU64; SLOTS] = [EMPTY; SLOTS];
    /// Entries in the table (a sweep with nothing to do costs one load).
    static COUNT: AtomicU32 = AtomicU32::new(0);

    /// Slot indexes are below 16 (`IO_RINGFD_REG_MAX`); the token fills the rest.
    fn encode(token: u64, index: c_int) -> u64 {
        (token << 8) | ((index as u64 & 0xff) + 1)
    }

    /// Ring registered by thread `token` at `index`, released by another thread.
    /// `alive`: the registering thread has not exited (an entry for an exited thread would
    /// never be swept and would fill the table for good: review).
    pub fn push(token: u64, index: c_int, alive: &AtomicBool) {
        if !alive.load(Ordering::Acquire) {
            return; // the kernel freed the thread's slots when it exited
        }
        let v = encode(token, index);
        for e in TABLE.iter() {
            if e.compare_exchange(0, v, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                COUNT.fetch_add(1, Ordering::Release);
                // The thread may have exited meanwhile, its guard purging before our entry
                // landed: take the entry back.
                if !alive.load(Ordering::Acquire)
                    && e.compare_exchange(v, 0, Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok()
                {
                    COUNT.fetch_sub(1, Ordering::Release);
                }
                return;
            }
        }
    }

    /// Unregister this thread's orphaned slots. `fd`: a ring of ours on this thread, whose
    /// number the caller just made (the kernel's table is per thread, whichever ring the call
    /// names); `by_index`: the kernel can name the orphan itself (6.3+), which does not
    /// depend on any number.
    pub fn sweep(fd: c_int, by_index: bool) {
        if COUNT.load(Ordering::Acquire) == 0 {
            return;
        }
        let me = thread_token();
        for e in TABLE.iter() {
            let v = e.load(Ordering::Acquire);
            if v == 0 || v >> 8 != me {
                continue;
            }
            if e.compare_exchange(v, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            COUNT.fetch_sub(1, Ordering::Release);
            let index = ((v & 0xff) - 1) as u32;
            let mut up = RsrcUpdate {
                offset: index,
                resv: 0,
                data: 0,
            };
            let (via, op) = if by_index {
                (
                    index as c_int,
                    UNREGISTER_RING_FDS | REGISTER_USE_REGISTERED_RING,
                )
            } else {
                (fd, UNREGISTER_RING_FDS)
            };
            // SAFETY: one valid io_uring_rsrc_update naming a slot of this thread.
            unsafe {
                libc::syscall(
                    libc::SYS_io_uring_register,
                    via as libc::c_long,
                    op as libc::c_long,
                    &mut up as *mut RsrcUpdate,
                    1 as libc::c_long,
                )
            };
        }
    }

    /// Drop the calling thread's entries when it exits (the kernel frees its slots then;
    /// its token is never reused, so they would occupy the table for good).
    pub fn watch_thread_exit() -> Option<Alive> {
        struct Guard(u64, Option<Alive>);
        impl Drop for Guard {
            fn drop(&mut self) {
                if let Some(a) = &self.1 {
                    a.flag().store(false, Ordering::Release);
                }
                for e in TABLE.iter() {
                    let v = e.load(Ordering::Acquire);
                    if v != 0
                        && v >> 8 == self.0
                        && e.compare_exchange(v, 0, Ordering::AcqRel, Ordering::Relaxed)
                            .is_ok()
                    {
                        COUNT.fetch_sub(1, Ordering::Release);
                    }
                }
            }
        }
        std::thread_local! {
            static GUARD: Guard = Guard(thread_token(), Alive::new());
        }
        // `try_with`: during this thread's own TLS teardown there is nothing left to watch.
        // No flag (malloc failed): no entries for this thread, its slots stay until it exits.
        GUARD.try_with(|g| g.1.clone()).ok().flatten()
    }

    /// Entries waiting in the table (tests).
    #[cfg(test)]
    pub fn pending() -> u32 {
        COUNT.load(Ordering::Acquire)
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // Default: as made by this process (the backend calls `release(false)` first in a
        // forked child, which leaves nothing for this to do).
        self.release(true);
    }
}
