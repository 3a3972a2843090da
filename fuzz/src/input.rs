//! The fuzz input: the actions, their sizes and alignments, and how bytes decode.

use arbitrary::{Arbitrary, Unstructured};

/// What the model may expect of a backend.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// The backend has a fixed amount of memory (a pool): any request may fail with
    /// `AllocError`. When `false`, a failure of an ordinary request (at most
    /// [`ORDINARY_SIZE`] bytes, alignment at most 4096) is a bug.
    pub exhaustible: bool,
    /// Allocating actions are skipped while the model's live bytes exceed this, to
    /// keep the fuzzer's memory bounded on unbounded backends.
    pub max_live_bytes: usize,
    /// The bytes of an exhaustible backend's region (`usize::MAX` if unknown or
    /// unbounded): `Root::reset`, which ends the process where no root can be made, is
    /// tried there only while the region is mostly free.
    pub capacity: usize,
}

impl Config {
    /// A backend over the platform's memory (system heap, anonymous pages).
    pub const UNBOUNDED: Config = Config {
        exhaustible: false,
        max_live_bytes: 16 << 20,
        capacity: usize::MAX,
    };
    /// A backend with a fixed region: exhaustion is expected and must be clean.
    pub const EXHAUSTIBLE: Config = Config {
        exhaustible: true,
        max_live_bytes: usize::MAX,
        capacity: 0,
    };
}

/// Requests up to this many bytes (and alignment up to 4096) must succeed on a backend
/// that is not [`exhaustible`](Config::exhaustible).
pub const ORDINARY_SIZE: usize = 1 << 20;

/// A requested size. The shapes favour small blocks, reach past a page, and include
/// sizes near `isize::MAX` that every backend must refuse.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Size {
    /// 0..=31 bytes.
    Tiny(u8),
    /// 0..=255 bytes.
    Small(u8),
    /// 0..=4100 bytes (around a page).
    Medium(u16),
    /// 0..=65535 bytes.
    Large(u16),
    /// `isize::MAX - (align - 1) - k`: a valid `Layout` that no backend can serve.
    Huge(u8),
}

impl Size {
    /// The layout of this size for a block of alignment `align` (a power of two).
    pub fn layout(self, align: usize) -> core::alloc::Layout {
        let Ok(layout) = core::alloc::Layout::from_size_align(self.bytes(align), align) else {
            unreachable!("Size::bytes keeps layouts valid");
        };
        layout
    }

    /// The size in bytes for a block of alignment `align`.
    pub fn bytes(self, align: usize) -> usize {
        match self {
            Size::Tiny(n) => usize::from(n % 32),
            Size::Small(n) => usize::from(n),
            Size::Medium(n) => usize::from(n) % 4101,
            Size::Large(n) => usize::from(n),
            Size::Huge(k) => isize::MAX as usize - (align - 1) - usize::from(k),
        }
    }
}

/// A requested alignment: mostly `1..=4096` (every backend serves those), sometimes
/// `8192..=65536` (may fail, never misaligned).
#[derive(Arbitrary, Clone, Copy, Debug)]
pub struct Align(pub u8);

impl Align {
    /// The alignment in bytes.
    pub fn bytes(self) -> usize {
        let shift = if self.0 < 240 {
            self.0 % 13
        } else {
            13 + self.0 % 4
        };
        1 << shift
    }
}

/// How a root is made.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum RootVia {
    /// `Linked::root` (the RAII handle).
    Handle,
    /// `Linked::allocate_root`, then `Root::from_raw`.
    Raw,
    /// `Linked::allocate_buffer` (MAPI sizes, `MIN_ALIGN`).
    Buffer,
    /// `GlobalAlloc::alloc` (a zero size falls back to `allocate_root`).
    Global,
    /// `GlobalAlloc::alloc_zeroed` (the block must read as zeroes).
    GlobalZeroed,
}

/// How a child is made.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum ChildVia {
    /// `Root::allocate_child` (the parent is the root).
    Handle,
    /// `Linked::allocate_child` with the picked block (root or child) as parent.
    Raw,
    /// `Linked::allocate_more` (MAPI sizes, `MIN_ALIGN`) with the picked block as parent.
    More,
}

/// How a root is freed.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum FreeVia {
    /// Dropping the `Root` handle.
    Drop,
    /// `Linked::free_root`.
    FreeRoot,
    /// `Linked::free_buffer`.
    FreeBuffer,
    /// `GlobalAlloc::dealloc` (only for a non-zero size; else `free_root`).
    Dealloc,
}

/// An operation on a vector that lives in a root (`allocator_api2::vec::Vec` with the
/// `&Root` allocator).
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum VecOp {
    /// Pushes up to 63 elements (each after a `try_reserve(1)`).
    Push(u8),
    /// `try_reserve_exact(n)` then extends by `n` (up to 255) elements.
    Extend(u8),
    /// `truncate` to `k % (len + 1)`.
    Truncate(u16),
    /// `clear`.
    Clear,
    /// `try_reserve(n)`.
    TryReserve(u16),
    /// `try_reserve` of an impossible amount: must fail and change nothing.
    TryReserveHuge(u8),
    /// Shrinks the capacity to `len + k % 8` through `Allocator::shrink` (fallible),
    /// or `Vec::shrink_to` on a backend that cannot run out.
    Shrink(u8),
    /// Drops the vector (its buffer is deallocated: reclaimed or kept until the root).
    Drop,
}

/// One step of a fuzz input. Indices pick among live roots (and their blocks), modulo
/// their number; an action that finds nothing to act on does nothing.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Action {
    /// A new root.
    NewRoot {
        /// Its size.
        size: Size,
        /// Its alignment (ignored by `RootVia::Buffer`).
        align: Align,
        /// Which call makes it.
        via: RootVia,
    },
    /// A child of a live block of a live root.
    Child {
        /// Which root.
        root: u16,
        /// Which of its blocks is the parent.
        block: u16,
        /// Its size.
        size: Size,
        /// Its alignment (ignored by `ChildVia::More`).
        align: Align,
        /// Which call makes it.
        via: ChildVia,
    },
    /// Up to 255 small children of one root, each a child of the previous one.
    Children {
        /// Which root.
        root: u16,
        /// How many.
        count: u8,
    },
    /// Frees a root and all its blocks, after checking their patterns.
    Free {
        /// Which root.
        root: u16,
        /// Which call frees it.
        via: FreeVia,
    },
    /// `GlobalAlloc::realloc` of a root: resized in place (its children stay), or moved
    /// to a new root (its children go with the old one).
    Realloc {
        /// Which root.
        root: u16,
        /// The new size (at least 1).
        size: Size,
    },
    /// An operation on one of the two vectors of a root.
    Vec {
        /// Which root.
        root: u16,
        /// `false`: a `Vec<u64>`; `true`: a vector of 64-byte-aligned elements.
        wide: bool,
        /// What to do.
        op: VecOp,
    },
    /// Checks every pattern of one root now (every root's patterns are checked again
    /// before it is freed). One root, not all: a check of every live byte at each such
    /// step made the run quadratic in its length.
    Check {
        /// Which root.
        root: u16,
    },
    // The variants below came with sub-roots (issue 14); new variants go at the end.
    /// A sub-root of a live root (`Root::sub_root`); accounted if its parent is.
    SubRoot {
        /// Which root is the parent.
        parent: u16,
        /// Its size.
        size: Size,
        /// Its alignment.
        align: Align,
    },
    /// A new accounted top root (`Linked::accounted_root`).
    AccountedRoot {
        /// Its size.
        size: Size,
        /// Its alignment.
        align: Align,
    },
    /// A value in a root (`Root::alloc` and its kin).
    Value {
        /// Which root.
        root: u16,
        /// What kind of value, through which call.
        kind: ValueKind,
    },
    /// `Root::reset`: drops the root's values, frees its children and sub-roots.
    Reset {
        /// Which root.
        root: u16,
    },
    /// `Root::set_limit` on an accounted root (on a plain one: must say
    /// `NotAccounted`).
    SetLimit {
        /// Which root.
        root: u16,
        /// The limit, relative to the subtree's bytes now.
        limit: LimitOp,
    },
    /// `Root::move_under`: a root with its subtree goes under another root (refused
    /// between accounted and plain roots, or past a limit).
    MoveUnder {
        /// Which root moves.
        root: u16,
        /// Which root is the new parent (never the root itself or below it).
        parent: u16,
    },
    /// Gives up a sub-root's handle (`mem::forget`): it is freed with its parent.
    ForgetSubRoot {
        /// Which root (a top root is left alone).
        root: u16,
    },
}

/// A value put in a root.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum ValueKind {
    /// `Root::alloc` of a value that counts its drops (`Root::try_alloc` where the
    /// allocation may fail: the infallible call would end the process).
    Drop,
    /// `Root::try_alloc` of a value that counts its drops (dropped at once if refused).
    TryDrop,
    /// `Root::alloc_slice_clone` of `n % 8` values that count their drops.
    Clone(u8),
    /// `Root::alloc_str` of `n % 40` bytes.
    Str(u8),
    /// `Root::alloc_slice_copy` of `n % 16` `u64`s.
    Copy(u8),
    /// `Root::try_alloc` of a value without `Drop` (`[u64; 3]`).
    Plain,
}

/// A limit for `Root::set_limit`, relative to the subtree's bytes when it is set.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum LimitOp {
    /// No limit.
    Remove,
    /// The bytes now plus `k`.
    Headroom(u16),
    /// The bytes now minus `k % 256` (a limit already passed: refuses until freed).
    Below(u8),
}

/// Decodes fuzz input bytes into actions, one after another until the bytes run out
/// (every byte string decodes). The targets and the replay tests both use this.
pub fn decode(data: &[u8]) -> Vec<Action> {
    let mut u = Unstructured::new(data);
    let mut actions = Vec::new();
    while !u.is_empty() {
        match Action::arbitrary(&mut u) {
            Ok(a) => actions.push(a),
            Err(_) => break,
        }
    }
    actions
}
