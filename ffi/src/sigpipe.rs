//! SIGPIPE never reaches the host.
//!
//! Writing to a socket whose peer has closed raises SIGPIPE in the writing thread, unless the
//! write passes `MSG_NOSIGNAL`. Under the default disposition that kills the process (exit
//! status 141), and that is the disposition of every C, Delphi and Free Pascal host that never
//! changed it. Rust programs never see this because std sets SIGPIPE to `SIG_IGN` before
//! `main`, but a library in a C host runs no Rust `main`. std's `send` passes `MSG_NOSIGNAL`;
//! hyper writes request bodies with `writev`, which takes no flags, so a provider that hangs up
//! during an upload raised SIGPIPE.
//!
//! The disposition is process-wide and belongs to the host. libcurl switches it to `SIG_IGN`
//! around each call and back afterwards (`sigpipe_ignore` / `sigpipe_restore` in its
//! `lib/sigpipe.h`), which races with the host's other threads and with other libraries doing
//! the same. This library only changes its own threads' signal masks, and the caller's mask
//! while a call is running:
//! - every runtime thread (workers and blocking pool) blocks SIGPIPE for good, so a SIGPIPE
//!   raised there stays pending on that thread and is never delivered. Standard signals do
//!   not queue: one stays pending, however many writes fail;
//! - the caller's thread, which polls the call's future inside `Runtime::block_on`, blocks it
//!   for the length of the call ([`Blocked`]). Before the host's mask is put back, a SIGPIPE
//!   the call raised is taken off the thread, so it is not delivered once unblocked.

use std::mem::MaybeUninit;
use std::ptr;

/// `{SIGPIPE}`.
fn sigpipe_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given; sigaddset then takes a valid signal.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGPIPE);
        set.assume_init()
    }
}

/// Changes the calling thread's mask and returns the previous one. `pthread_sigmask` fails
/// only for an invalid `how`, and ours are constants.
fn set_mask(how: libc::c_int, set: &libc::sigset_t) -> libc::sigset_t {
    let mut previous = sigpipe_set();
    // SAFETY: both pointers are to initialised sets that live across the call.
    unsafe { libc::pthread_sigmask(how, set, &mut previous) };
    previous
}

/// Whether a SIGPIPE is pending for the calling thread (for it or for the whole process).
fn pending() -> bool {
    let mut set = sigpipe_set();
    // SAFETY: `set` is an initialised set that sigpending overwrites.
    unsafe { libc::sigpending(&mut set) == 0 && libc::sigismember(&set, libc::SIGPIPE) == 1 }
}

/// Takes a pending SIGPIPE off the calling thread, without waiting. The kernel hands over the
/// thread's own signals before the process's, so a SIGPIPE raised by a write on this thread
/// goes first.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd"
))]
fn take_pending() {
    let set = sigpipe_set();
    let now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    loop {
        // SAFETY: valid set and timeout; a NULL siginfo is allowed.
        let taken = unsafe { libc::sigtimedwait(&set, ptr::null_mut(), &now) };
        // EAGAIN: nothing left. EINTR: a handler ran meanwhile; try again.
        if taken != -1 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

/// No `sigtimedwait` here (Apple's systems, OpenBSD). On Apple's systems every socket the library
/// writes to has `SO_NOSIGPIPE` (mio and std set it), so no write raises SIGPIPE at all.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd"
)))]
fn take_pending() {}

/// Blocks SIGPIPE on the calling thread for good: for the runtime's threads, at their start.
pub(crate) fn block_for_good() {
    set_mask(libc::SIG_BLOCK, &sigpipe_set());
}

/// SIGPIPE blocked on the caller's thread while a call runs; dropping it takes any SIGPIPE
/// the call raised and puts the host's mask back.
pub(crate) struct Blocked {
    host_mask: libc::sigset_t,
    /// A SIGPIPE already pending when the call started is the host's (sent while the host
    /// blocked it, or to the process): it stays for the host.
    host_pending: bool,
}

impl Blocked {
    pub(crate) fn on_this_thread() -> Self {
        let host_mask = set_mask(libc::SIG_BLOCK, &sigpipe_set());
        Self { host_mask, host_pending: pending() }
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        // One limit, accepted: a SIGPIPE sent to the whole process (kill, not a write) during
        // the call, while every thread of the host blocks it, is taken too. Nobody sends
        // SIGPIPE that way; telling the two apart would mean reading /proc on every call.
        if !self.host_pending && pending() {
            take_pending();
        }
        set_mask(libc::SIG_SETMASK, &self.host_mask);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::{ErrorKind, IoSlice, Write};
    use std::os::unix::net::UnixStream;
    use std::thread;

    use super::*;
    use crate::runtime::block_on;

    pub(crate) fn blocked() -> bool {
        let mut mask = sigpipe_set();
        // SAFETY: a NULL set only reads the mask, into an initialised set.
        unsafe {
            libc::pthread_sigmask(libc::SIG_BLOCK, ptr::null(), &mut mask);
            libc::sigismember(&mask, libc::SIGPIPE) == 1
        }
    }

    /// Each test runs on a thread of its own, whose mask and pending signals nothing else
    /// touches. (Test binaries ignore SIGPIPE, as every Rust program does; the kernel still
    /// keeps a blocked one pending, which is what the tests look at.)
    pub(crate) fn on_own_thread(test: impl FnOnce() + Send + 'static) {
        thread::spawn(test).join().unwrap();
    }

    #[test]
    fn a_sigpipe_raised_on_the_callers_thread_is_taken_and_the_mask_restored() {
        on_own_thread(|| {
            assert!(!blocked() && !pending());
            let (write, held) = block_on(async {
                // The future runs on the caller's thread: a vectored write, as hyper does, to
                // a socket whose peer has closed.
                let (ours, theirs) = UnixStream::pair().unwrap();
                drop(theirs);
                let write = (&ours).write_vectored(&[IoSlice::new(b"body")]);
                (write.map_err(|e| e.kind()), pending())
            })
            .unwrap();
            assert_eq!(write, Err(ErrorKind::BrokenPipe));
            assert!(held, "the SIGPIPE was not blocked and pending during the call");
            assert!(!pending(), "the call's SIGPIPE is still pending");
            assert!(!blocked(), "the caller's mask was not restored");
        });
    }

    #[test]
    fn a_sigpipe_pending_before_the_call_stays_for_the_host() {
        on_own_thread(|| {
            let host_mask = set_mask(libc::SIG_BLOCK, &sigpipe_set());
            // SAFETY: a signal to this very thread, which blocks it.
            assert_eq!(unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGPIPE) }, 0);
            block_on(async {}).unwrap();
            assert!(pending() && blocked(), "the host's SIGPIPE or mask was changed");
            take_pending();
            set_mask(libc::SIG_SETMASK, &host_mask);
        });
    }
}
