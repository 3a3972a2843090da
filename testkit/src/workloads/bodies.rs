//! The workloads: one generic body each, run on every [`Contender`] unchanged.
//!
//! Every body does a fixed batch of work and returns how many operations it did (an
//! operation is one allocation, its share of the frees included), so that "ns per op"
//! is the same measure in the criterion benches and in `benches/examples/compare.rs`. Every
//! block is written (its first byte) before it is freed, so that its memory is touched.

use core::alloc::Layout;
use core::hint::black_box;
use core::ptr::NonNull;

use allocator_api2::alloc::Allocator;
use allocator_api2::vec::Vec as ApiVec;

use super::contender::{AllocUser, Contender, OutOfMemory};
use super::footprint::{resident, trim_heap};
use super::sizes::{Rng, Sizes};
use crate::mapi_rows::{PropValue, Row};

/// Workload 1: root allocations, each freed at once.
pub const PAIRS: usize = 10_000;
/// Workload 2: children under one root (the standard count; `Kind::Tree` takes any).
pub const TREE_CHILDREN: usize = 1_000_000;
/// Workload 3: roots of the forest.
pub const FOREST_ROOTS: usize = 10_000;
/// Workload 3: children per root.
pub const FOREST_CHILDREN: usize = 100;
/// Workload 4: rows of the row set.
pub const ROWS: usize = 1_000;
/// Workload 4: string properties per row.
pub const PROPS: usize = 8;
/// Workload 6: elements pushed.
pub const VEC_LEN: usize = 1_000_000;

/// The kinds of workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// 1: `PAIRS` times, a root allocated, written and freed.
    Pairs,
    /// 2: one root, this many children, one free (the MAPI pattern).
    Tree(usize),
    /// 3: `FOREST_ROOTS` roots of `FOREST_CHILDREN` children each, roots freed in a
    /// random order.
    Forest,
    /// 4: a MAPI row set: a root of `ROWS` rows, each row a root of `PROPS` property
    /// values whose strings are its children; freed as `FreeProws` does.
    RowSet,
    /// 6: a `Vec<u64>` grown by `push` to `VEC_LEN` elements in one root.
    VecGrowth,
}

/// A workload: its kind, its object sizes, and its inputs drawn in advance.
#[derive(Clone, Debug)]
pub struct Workload {
    kind: Kind,
    sizes: Sizes,
    /// The forest's free order: a fixed random permutation of the roots.
    order: Vec<usize>,
}

impl Workload {
    /// `kind` with objects of `sizes`.
    pub fn new(kind: Kind, sizes: Sizes) -> Self {
        let order = match kind {
            Kind::Forest => Rng::new(0x00F0_4E57).permutation(FOREST_ROOTS),
            _ => Vec::new(),
        };
        Self { kind, sizes, order }
    }

    /// Every workload of this module: each kind with 64 B objects and mixed sizes
    /// (the `Vec` growth has one size: `u64`).
    pub fn all() -> Vec<Self> {
        let mut all = Vec::new();
        let tree = Kind::Tree(TREE_CHILDREN);
        for kind in [Kind::Pairs, tree, Kind::Forest, Kind::RowSet] {
            all.push(Self::new(kind, Sizes::fixed_64()));
            all.push(Self::new(kind, Sizes::mixed()));
        }
        all.push(Self::new(Kind::VecGrowth, Sizes::fixed_64()));
        all
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The sizes.
    pub fn sizes(&self) -> &Sizes {
        &self.sizes
    }

    /// A short name: `2_tree_1M_children_64B`.
    pub fn name(&self) -> String {
        let kind = match self.kind {
            Kind::Pairs => "1_root_alloc_free",
            Kind::Tree(n) => return format!("2_tree_{}_children_{}", count(n), self.sizes.name()),
            Kind::Forest => "3_forest_10k_x_100",
            Kind::RowSet => "4_rowset_1k_x_8",
            Kind::VecGrowth => return "6_vec_u64_push_1M".to_owned(),
        };
        format!("{kind}_{}", self.sizes.name())
    }

    /// The operations one run does (allocations; pushes for the `Vec`).
    pub fn ops(&self) -> u64 {
        (match self.kind {
            Kind::Pairs => PAIRS,
            Kind::Tree(n) => 1 + n,
            Kind::Forest => FOREST_ROOTS * (1 + FOREST_CHILDREN),
            Kind::RowSet => 1 + ROWS * (1 + PROPS),
            Kind::VecGrowth => VEC_LEN,
        }) as u64
    }

    /// Prepares a measurement of `c` (see [`warm_up`](fn@warm_up)).
    ///
    /// # Errors
    /// [`OutOfMemory`] if the workload does not fit `c` (nothing to measure then).
    pub fn warm_up<C: Contender>(&self, c: &C) -> Result<(), OutOfMemory> {
        warm_up(|| self.run(c))
    }

    /// Runs the workload once on `c`; returns the operations done ([`ops`](Self::ops)).
    ///
    /// # Errors
    /// [`OutOfMemory`] if an allocation failed (everything made is freed first).
    #[inline(never)]
    pub fn run<C: Contender>(&self, c: &C) -> Result<u64, OutOfMemory> {
        match self.kind {
            Kind::Pairs => pairs(c, &self.sizes),
            Kind::Tree(n) => tree(c, &self.sizes, n),
            Kind::Forest => forest(c, &self.sizes, &self.order),
            Kind::RowSet => row_set(c, &self.sizes),
            Kind::VecGrowth => c.with_allocator(Grow(VEC_LEN)).unwrap_or(Err(OutOfMemory)),
        }?;
        Ok(self.ops())
    }
}

/// A count for a name: `1000` → `1k`, `1000000` → `1M`.
fn count(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// Prepares a measurement: gives the C heap's free memory back (so that what ran before
/// does not warm it for the contender), then does one untimed `run`, to bring the
/// contender to its steady state (caches, free lists, memory it keeps).
///
/// # Errors
/// [`OutOfMemory`] if `run` ran out (nothing to measure then).
pub fn warm_up(run: impl FnOnce() -> Result<u64, OutOfMemory>) -> Result<(), OutOfMemory> {
    trim_heap();
    run().map(drop)
}

/// Writes the first byte of a block of at least one byte (every size here is >= 8).
#[inline(always)]
fn touch(block: NonNull<u8>, i: usize) {
    // SAFETY: the callers pass a fresh live block of a layout from `Sizes` (>= 8 bytes)
    // or of a row set struct, owned by the workload.
    unsafe { block.as_ptr().write(i as u8) }
}

/// Workload 1.
fn pairs<C: Contender>(c: &C, sizes: &Sizes) -> Result<(), OutOfMemory> {
    for i in 0..PAIRS {
        let root = c.root(sizes.layout(i)).ok_or(OutOfMemory)?;
        touch(C::block(&root), i);
        // SAFETY: `root` was just made by `c.root`; nothing uses it afterwards.
        unsafe { c.free(root) };
    }
    Ok(())
}

/// Adds `n` children to `root`, layouts from `sizes` starting at index `first`.
/// On failure the caller still owns `root` and frees it.
#[inline(always)]
fn add_children<C: Contender>(
    c: &C,
    root: &mut C::Root,
    sizes: &Sizes,
    first: usize,
    n: usize,
) -> Result<(), OutOfMemory> {
    for i in first..first + n {
        // SAFETY: `root` was made by `c.root` and is live (the callers').
        match unsafe { c.child(root, sizes.layout(i)) } {
            Some(p) => touch(p, i),
            None => return Err(OutOfMemory),
        }
    }
    Ok(())
}

/// Frees `root` (a live root of `c`, not used afterwards).
#[inline(always)]
fn free<C: Contender>(c: &C, root: C::Root) {
    // SAFETY: the callers pass a live root made by `c.root` and drop every pointer into
    // it.
    unsafe { c.free(root) }
}

/// Workload 2.
fn tree<C: Contender>(c: &C, sizes: &Sizes, n: usize) -> Result<(), OutOfMemory> {
    let mut root = c.root(sizes.layout(0)).ok_or(OutOfMemory)?;
    touch(C::block(&root), 0);
    let done = add_children(c, &mut root, sizes, 1, n);
    free(c, root);
    done
}

/// Workload 3.
fn forest<C: Contender>(c: &C, sizes: &Sizes, order: &[usize]) -> Result<(), OutOfMemory> {
    let mut roots: Vec<Option<C::Root>> = Vec::with_capacity(FOREST_ROOTS);
    let mut done = Ok(());
    for r in 0..FOREST_ROOTS {
        let first = r * (1 + FOREST_CHILDREN);
        let Some(mut root) = c.root(sizes.layout(first)) else {
            done = Err(OutOfMemory);
            break;
        };
        touch(C::block(&root), first);
        done = add_children(c, &mut root, sizes, first + 1, FOREST_CHILDREN);
        roots.push(Some(root));
        if done.is_err() {
            break;
        }
    }
    for &i in order {
        if let Some(root) = roots.get_mut(i).and_then(Option::take) {
            free(c, root);
        }
    }
    done
}

/// The layout of an array of `n` `T`, as a MAPI buffer (aligned to `MIN_ALIGN`).
fn array<T>(n: usize) -> Layout {
    Layout::from_size_align(n * size_of::<T>(), linked_alloc::MIN_ALIGN).unwrap()
}

/// Workload 4: `HrQueryAllRows` then `FreeProws`.
fn row_set<C: Contender>(c: &C, sizes: &Sizes) -> Result<(), OutOfMemory> {
    let set = c.root(array::<Row>(ROWS)).ok_or(OutOfMemory)?;
    let rows = C::block(&set).cast::<Row>();
    let mut props_roots: Vec<C::Root> = Vec::with_capacity(ROWS);
    let mut done = Ok(());
    'rows: for r in 0..ROWS {
        let Some(mut props) = c.root(array::<PropValue>(PROPS)) else {
            done = Err(OutOfMemory);
            break;
        };
        let values = C::block(&props).cast::<PropValue>();
        for p in 0..PROPS {
            let layout = sizes.layout(r * PROPS + p);
            // SAFETY: `props` was made by `c.root` just above and is live.
            let Some(string) = (unsafe { c.child(&mut props, layout) }) else {
                props_roots.push(props);
                done = Err(OutOfMemory);
                break 'rows;
            };
            touch(string, p);
            // SAFETY: `values` is the live block of `props`, `PROPS` values long and
            // aligned to `MIN_ALIGN` (>= the struct's alignment).
            unsafe {
                values.add(p).write(PropValue {
                    tag: 0x001F_0000 | p as u32,
                    len: layout.size() as u32,
                    string: string.as_ptr(),
                });
            }
        }
        // SAFETY: `rows` is the live block of `set`, `ROWS` rows long and aligned.
        unsafe {
            rows.add(r).write(Row {
                count: PROPS as u32,
                props: values.as_ptr(),
            })
        };
        props_roots.push(props);
    }
    if done.is_ok() {
        // Read the row set back, as a client would, before freeing it.
        let mut total = 0u64;
        for r in 0..ROWS {
            // SAFETY: every row and its values were written above and are live.
            unsafe {
                let row = &*rows.as_ptr().add(r);
                for p in 0..row.count as usize {
                    let value = &*row.props.add(p);
                    total += u64::from(value.len) + u64::from(*value.string);
                }
            }
        }
        black_box(total);
    }
    for props in props_roots {
        free(c, props);
    }
    free(c, set);
    done
}

/// Workload 6: a `Vec<u64>` pushed to `.0` elements in the contender's allocator.
#[derive(Debug)]
struct Grow(usize);

impl AllocUser for Grow {
    type Output = Result<(), OutOfMemory>;

    fn run<A: Allocator>(self, alloc: A) -> Result<(), OutOfMemory> {
        let mut v: ApiVec<u64, A> = ApiVec::new_in(alloc);
        for i in 0..self.0 {
            if v.len() == v.capacity() {
                // The growth `push` does (doubling), without its abort on failure.
                v.try_reserve(1).map_err(|_| OutOfMemory)?;
            }
            v.push(i as u64);
        }
        black_box(v.last());
        Ok(())
    }
}

/// The bytes each child costs, measured two ways (see `footprint.rs`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ChildCost {
    /// From the allocator's own figure ([`Contender::footprint`]).
    pub held: Option<f64>,
    /// From the growth of the process's resident memory.
    pub resident: Option<f64>,
}

/// Workload "memory": the bytes each child costs: the growth of the footprint over `n`
/// children of one root (the root's own cost not counted), divided by `n`. Run it on a
/// fresh process, before the timed workloads, for the resident figure to mean much.
pub fn bytes_per_child<C: Contender>(c: &C, sizes: &Sizes, n: usize) -> ChildCost {
    let Some(mut root) = c.root(sizes.layout(0)) else {
        return ChildCost::default();
    };
    trim_heap();
    let (held_before, resident_before) = (c.footprint(), resident());
    let added = add_children(c, &mut root, sizes, 1, n);
    let (held_after, resident_after) = (c.footprint(), resident());
    free(c, root);
    if added.is_err() {
        return ChildCost::default();
    }
    let per_child = |before: Option<usize>, after: Option<usize>| {
        Some(after?.checked_sub(before?)? as f64 / n as f64)
    };
    ChildCost {
        held: per_child(held_before, held_after),
        resident: per_child(resident_before, resident_after),
    }
}
