//! The runtime of a `#![no_std]` plugin, put in place by
//! [`no_std_runtime!`](crate::no_std_runtime): a bump allocator, a panic
//! handler that traps, `cabi_realloc` for the component model's lowering,
//! and `memcmp`/`bcmp`, which `core` calls and nothing else provides there.
//! A macro rather than items of this crate, so that a plugin using the
//! standard library, which brings its own, can depend on the SDK too.
//!
//! The allocator never frees. The host runs every call in a fresh instance
//! and throws its memory away when the call ends, so a call's garbage
//! lives only as long as the call; the host's memory limit still caps
//! what one call may take. The first 64 KiB come from a static arena, part
//! of the instance's image: a call that stays within it grows no memory.

#![allow(
    unsafe_code,
    reason = "an allocator, a panic handler and the C memory functions are unsafe by nature"
)]

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;

const PAGE: usize = 65_536;
const ARENA: usize = 64 * 1024;

#[repr(align(16))]
struct Arena(UnsafeCell<[u8; ARENA]>);

// SAFETY: an instance runs one call at a time on one thread; nothing is
// shared across threads.
unsafe impl Sync for Arena {}

static ARENA_BYTES: Arena = Arena(UnsafeCell::new([0; ARENA]));

/// The allocator: the free space left, `[next, end)`, as addresses in
/// linear memory.
pub struct Bump {
    next: UnsafeCell<usize>,
    end: UnsafeCell<usize>,
}

// SAFETY: as for `Arena`.
unsafe impl Sync for Bump {}

impl Bump {
    /// An allocator that starts in the static arena.
    #[allow(clippy::new_without_default, reason = "built in a static")]
    pub const fn new() -> Self {
        Self {
            next: UnsafeCell::new(0),
            end: UnsafeCell::new(0),
        }
    }

    /// `[start, end)` of a block of at least `layout`, or `None` when the
    /// memory cannot grow.
    fn carve(&self, layout: Layout) -> Option<usize> {
        // SAFETY: single-threaded (see `Arena`), and no reference to these
        // cells outlives this function.
        let (next, end) = unsafe { (&mut *self.next.get(), &mut *self.end.get()) };
        if *end == 0 {
            *next = ARENA_BYTES.0.get() as usize;
            *end = *next + ARENA;
        }
        let align = layout.align();
        let mut start = next.checked_add(align - 1)? & !(align - 1);
        if start.checked_add(layout.size())? > *end {
            // A fresh run of pages at the end of memory; what was left of
            // the old run is not used again.
            let pages = layout.size().checked_add(align)?.div_ceil(PAGE);
            let old = wasm32::memory_grow(0, pages);
            if old == usize::MAX {
                return None;
            }
            let base = old.checked_mul(PAGE)?;
            start = base.checked_add(align - 1)? & !(align - 1);
            *end = (old + pages).checked_mul(PAGE)?;
        }
        *next = start + layout.size();
        Some(start)
    }

    /// Whether `ptr` of `size` bytes is the newest block, which can grow
    /// in place.
    fn is_last(&self, ptr: *mut u8, size: usize) -> bool {
        // SAFETY: as in `carve`.
        let next = unsafe { *self.next.get() };
        ptr as usize + size == next
    }
}

// SAFETY: every block returned is `layout.size()` bytes at `layout.align()`,
// inside linear memory, and handed out once.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.carve(layout)
            .map_or(core::ptr::null_mut(), |at| at as *mut u8)
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A growing string or vector is usually the newest block: extend it.
        if self.is_last(ptr, layout.size()) {
            // SAFETY: as in `carve`.
            let (next, end) = unsafe { (&mut *self.next.get(), *self.end.get()) };
            let grown = (ptr as usize).checked_add(new_size);
            if let Some(grown) = grown.filter(|g| *g <= end) {
                *next = grown;
                return ptr;
            }
        }
        // SAFETY: `new_size` with the old alignment is a valid layout (the
        // caller's contract), and the old block is `layout.size()` bytes.
        unsafe {
            let new = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            }
            new
        }
    }
}

/// The component model's allocator, called by the host to lower the
/// request's strings and lists into the plugin's memory.
///
/// # Safety
/// Called only by the canonical ABI, with a block `bump` handed out (or
/// null) and a power-of-two alignment.
pub unsafe fn cabi_realloc(
    bump: &Bump,
    old: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    if new_len == 0 {
        return align as *mut u8;
    }
    // SAFETY: the caller's contract.
    let ptr = unsafe {
        if old_len == 0 {
            bump.alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            bump.realloc(
                old,
                Layout::from_size_align_unchecked(old_len, align),
                new_len,
            )
        }
    };
    if ptr.is_null() {
        wasm32::unreachable();
    }
    ptr
}

/// Compares `n` bytes (C's `memcmp`, called by `core` for slices).
///
/// # Safety
/// `a` and `b` must be valid for `n` bytes.
pub unsafe fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // A plain loop: a slice comparison here would compile to a call to
    // this very function.
    let mut i = 0;
    while i < n {
        // SAFETY: the caller's contract; `i < n`.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

/// A panic traps: the host fails the call closed and names the plugin.
pub fn trap() -> ! {
    wasm32::unreachable()
}

/// Puts the runtime of a `#![no_std]` plugin in place: call it once, at
/// the root of the plugin's crate (see [`runtime`](crate::runtime)).
#[macro_export]
macro_rules! no_std_runtime {
    () => {
        #[global_allocator]
        static CUSTODIA_PLUGIN_ALLOCATOR: $crate::runtime::Bump = $crate::runtime::Bump::new();

        #[panic_handler]
        fn custodia_plugin_panic(_: &::core::panic::PanicInfo<'_>) -> ! {
            $crate::runtime::trap()
        }

        #[allow(
            unsafe_code,
            reason = "symbols the component model and `core` link against"
        )]
        #[unsafe(no_mangle)]
        unsafe extern "C" fn cabi_realloc(
            old: *mut u8,
            old_len: usize,
            align: usize,
            new_len: usize,
        ) -> *mut u8 {
            // SAFETY: called by the canonical ABI only.
            unsafe {
                $crate::runtime::cabi_realloc(
                    &CUSTODIA_PLUGIN_ALLOCATOR,
                    old,
                    old_len,
                    align,
                    new_len,
                )
            }
        }

        #[allow(
            unsafe_code,
            reason = "symbols the component model and `core` link against"
        )]
        #[unsafe(no_mangle)]
        unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
            // SAFETY: C's contract, which `core` keeps.
            unsafe { $crate::runtime::memcmp(a, b, n) }
        }

        #[allow(
            unsafe_code,
            reason = "symbols the component model and `core` link against"
        )]
        #[unsafe(no_mangle)]
        unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
            // SAFETY: as for `memcmp`.
            unsafe { $crate::runtime::memcmp(a, b, n) }
        }
    };
}
